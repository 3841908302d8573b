package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/evaluate"
)

// truthSpec says where a project's ground truth is: files whose rows give a
// record's entity, or files of matching record pairs (entities are then
// their connected components; records in no pair stand alone). Paths are
// relative to the spec's folder.
type truthSpec struct {
	Files []truthFile `yaml:"files"`
	Pairs []truthPair `yaml:"pairs"`
}

type truthFile struct {
	File   string `yaml:"file"`
	Source string `yaml:"source"` // record keys are source/key
	Key    string `yaml:"key"`
	Entity string `yaml:"entity"`
	// Pattern, when set, is a regular expression whose first group is the
	// entity, taken from the entity column (Febrl's rec-12-dup-0 → rec-12).
	Pattern   string `yaml:"pattern"`
	Delimiter string `yaml:"delimiter"`
}

type truthPair struct {
	File        string `yaml:"file"`
	Delimiter   string `yaml:"delimiter"`
	LeftSource  string `yaml:"left_source"`
	Left        string `yaml:"left"`
	RightSource string `yaml:"right_source"`
	Right       string `yaml:"right"`
}

// truthFileName is the ground-truth spec read by default from the project.
const truthFileName = "truth.yaml"

func newEvaluateCmd() *cobra.Command {
	var truthPath, key, entity, source string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "evaluate <project>",
		Short: "Compare the last run against ground truth: pairwise precision, recall, F1 and cluster figures",
		Long: `Evaluate compares the customers of the project's last run with ground truth.
With --truth FILE --key COL --entity COL (and --source S when record keys are
S/key) the truth is a CSV of record key → entity; without flags the project's
truth.yaml says where the truth is (entity columns of source files, or files
of matching pairs). Only records in the truth are scored.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var spec *truthSpec
			base := args[0]
			if truthPath != "" {
				if key == "" || entity == "" {
					return knit.Errorf(knit.EINVALID, "--truth needs --key and --entity: the columns of the record key and of the entity")
				}
				spec = &truthSpec{Files: []truthFile{{File: truthPath, Source: source, Key: key, Entity: entity}}}
				base = "."
			} else {
				var err error
				if spec, err = readTruthSpec(filepath.Join(args[0], truthFileName)); err != nil {
					return err
				}
			}
			_, eng, err := openProject(args[0])
			if err != nil {
				return err
			}
			defer eng.Close()
			predicted, err := predictedClusters(cmd.Context(), eng)
			if err != nil {
				return err
			}
			truth, err := spec.load(base, predicted)
			if err != nil {
				return err
			}
			res := evaluate.Pairwise(truth, predicted)
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.String())
			return nil
		},
	}
	cmd.Flags().StringVar(&truthPath, "truth", "", "CSV file of record key → entity (default: the project's truth.yaml)")
	cmd.Flags().StringVar(&key, "key", "", "column of the record key in --truth")
	cmd.Flags().StringVar(&entity, "entity", "", "column of the entity in --truth")
	cmd.Flags().StringVar(&source, "source", "", "source name: record keys are source/key")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func readTruthSpec(path string) (*truthSpec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, knit.Wrap(knit.EINVALID, err, "no ground truth given: pass --truth FILE --key COL --entity COL, or write %s", path)
	}
	var s truthSpec
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, knit.Wrap(knit.EINVALID, err, "%s", path)
	}
	if len(s.Files) == 0 && len(s.Pairs) == 0 {
		return nil, knit.Errorf(knit.EINVALID, "%s: give files: (record key → entity) or pairs: (matching record pairs)", path)
	}
	return &s, nil
}

// predictedClusters maps every record key of the last run to its customer
// ID; a record without a profile is its own cluster.
func predictedClusters(ctx context.Context, eng engine.Engine) (map[string]string, error) {
	if ok, err := eng.TableExists(ctx, "records"); err != nil {
		return nil, err
	} else if !ok {
		return nil, knit.Errorf(knit.ENOTFOUND, "the project has no results yet; run \"knit run\" first")
	}
	rows, err := eng.Query(ctx, `SELECT record_key, coalesce(customer_id, 'record:' || record_key) FROM records`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, c string
		if err := rows.Scan(&k, &c); err != nil {
			return nil, err
		}
		out[k] = c
	}
	return out, rows.Err()
}

// load builds the truth map (record key → entity).
func (s *truthSpec) load(base string, predicted map[string]string) (map[string]string, error) {
	truth := map[string]string{}
	for _, f := range s.Files {
		var re *regexp.Regexp
		if f.Pattern != "" {
			var err error
			if re, err = regexp.Compile(f.Pattern); err != nil {
				return nil, knit.Errorf(knit.EINVALID, "truth pattern %q: %v", f.Pattern, err)
			}
		}
		err := readColumns(config.Resolve(base, f.File), f.Delimiter, []string{f.Key, f.Entity}, func(v []string) {
			ent := v[1]
			if re != nil {
				if m := re.FindStringSubmatch(ent); len(m) > 1 {
					ent = m[1]
				}
			}
			truth[recordKey(f.Source, v[0])] = ent
		})
		if err != nil {
			return nil, err
		}
	}
	if len(s.Pairs) == 0 {
		return truth, nil
	}
	// Pairs: entities are connected components; every record of a source
	// named by the pairs that is in no pair is an entity of its own.
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		p, ok := parent[x]
		if !ok || p == x {
			parent[x] = x
			return x
		}
		root := find(p)
		parent[x] = root
		return root
	}
	sources := map[string]bool{}
	for _, p := range s.Pairs {
		sources[p.LeftSource], sources[p.RightSource] = true, true
		err := readColumns(config.Resolve(base, p.File), p.Delimiter, []string{p.Left, p.Right}, func(v []string) {
			a, b := find(recordKey(p.LeftSource, v[0])), find(recordKey(p.RightSource, v[1]))
			if a != b {
				parent[b] = a
			}
		})
		if err != nil {
			return nil, err
		}
	}
	for k := range predicted {
		src, _, _ := strings.Cut(k, "/")
		if sources[src] {
			find(k)
		}
	}
	for k := range parent {
		truth[k] = find(k)
	}
	return truth, nil
}

func recordKey(source, key string) string {
	key = strings.TrimSpace(key)
	if source == "" {
		return key
	}
	return source + "/" + key
}

// readColumns calls row with the values of the named columns of each row of
// a delimited file with a header.
func readColumns(path, delim string, cols []string, row func([]string)) error {
	f, err := os.Open(path)
	if err != nil {
		return knit.Wrap(knit.EINVALID, err, "ground truth")
	}
	defer f.Close()
	r := csv.NewReader(f)
	if delim != "" {
		r.Comma = []rune(delim)[0]
	}
	r.TrimLeadingSpace = true
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return knit.Wrap(knit.EINVALID, err, "ground truth %s: header", path)
	}
	idx := make([]int, len(cols))
	for i, c := range cols {
		idx[i] = -1
		for j, h := range header {
			if strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) == c {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			return knit.Errorf(knit.EINVALID, "ground truth %s has no column %q; its columns are %s", path, c, strings.Join(header, ", "))
		}
	}
	vals := make([]string, len(cols))
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return knit.Wrap(knit.EINVALID, err, "ground truth %s:%d", path, line)
		}
		for i, j := range idx {
			if j < len(rec) {
				vals[i] = rec[j]
			} else {
				vals[i] = ""
			}
		}
		row(vals)
	}
}
