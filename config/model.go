package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Model configures the probabilistic (Fellegi–Sunter) matcher: how pairs
// of records are compared, which pairs are compared at all (blocking), how
// training runs and the match probability that makes a link. "knit train"
// estimates its parameters into File; "knit run" scores pairs with them.
// See docs/matching.md.
type Model struct {
	// Link is link_and_dedupe (the default: every pair of records of the
	// model's sources), link_only (pairs from two different sources) or
	// dedupe_only (pairs within one source).
	Link    string   `yaml:"link"`
	Sources []string `yaml:"sources"` // default: all sources
	// Comparisons are the fields compared, each made of ordered levels.
	Comparisons []*Comparison `yaml:"comparisons"`
	// Blocking lists the blocking rules: a pair is scored when it agrees
	// on every key of at least one rule. A key is a field, or field:N for
	// the field's first N characters. Pairs from several rules are unioned
	// without duplicates.
	Blocking [][]string `yaml:"blocking"`
	Training Training   `yaml:"training"`
	// Threshold is the match probability at or above which a scored pair
	// becomes a link (default 0.9).
	Threshold float64 `yaml:"threshold"`
	// File is the trained model, relative to the project (default
	// knit.model.yaml).
	File string `yaml:"file"`
	// ReviewFloor is the lowest match probability of a scored pair kept in
	// the match_pairs table for review with "knit pairs" (default 0.01).
	ReviewFloor float64 `yaml:"review_floor"`
}

// Training tunes "knit train".
type Training struct {
	// Blocking lists the blocking rules of the EM passes (default: the
	// model's blocking rules). Each comparison must be left free by at
	// least one pass, so that its m is estimated.
	Blocking [][]string `yaml:"blocking"`
	// SamplePairs is the number of random record pairs drawn to estimate
	// u (default 1,000,000); Seed makes the draw repeatable (default 1).
	SamplePairs   int `yaml:"sample_pairs"`
	Seed          int `yaml:"seed"`
	MaxIterations int `yaml:"max_iterations"` // per EM pass, default 200
}

// Comparison compares one field of two records, by a preset or by explicit
// levels (tested in order; the first that holds wins). A null level first
// and an else level last are always added.
type Comparison struct {
	Field string `yaml:"field"`
	Name  string `yaml:"name"` // default: the field
	// Preset is one of ComparisonPresets; Thresholds tunes presets that
	// take them (jaro_winkler: similarities; levenshtein: distances; date:
	// days; numeric: differences).
	Preset     string    `yaml:"preset"`
	Thresholds []float64 `yaml:"thresholds"`
	// TF adjusts the exact level by term frequency (presets name and
	// first_name always do).
	TF     bool     `yaml:"tf"`
	Levels []*Level `yaml:"levels"`
}

// Level is one explicit level of a comparison.
type Level struct {
	Label     string  `yaml:"label"`
	Kind      string  `yaml:"kind"`
	Part      string  `yaml:"part"`
	Threshold float64 `yaml:"threshold"`
	TF        bool    `yaml:"tf"`
}

// Allowed values of the model section.
var (
	ModelLinkTypes    = []string{"link_and_dedupe", "link_only", "dedupe_only"}
	ComparisonPresets = []string{"name", "jaro_winkler", "levenshtein", "exact", "date", "date_of_birth", "email", "postcode", "numeric"}
	LevelKinds        = []string{"exact", "jaro_winkler", "levenshtein", "jaccard", "date_within_days", "numeric_within"}
	LevelParts        = []string{"email_local", "email_domain", "postcode_sector", "postcode_district", "postcode_area"}
)

// Model defaults.
const (
	DefaultModelFile      = "knit.model.yaml"
	DefaultModelThreshold = 0.9
	DefaultReviewFloor    = 0.01
	DefaultSamplePairs    = 1_000_000
)

// textKinds are level kinds and presets that compare strings: they are
// refused on typed columns, as fuzzy conditions are.
var textKinds = []string{"jaro_winkler", "levenshtein", "jaccard", "name", "email", "postcode"}

// BlockingKey is one parsed key of a blocking rule.
type BlockingKey struct {
	Field  string
	Prefix int // the first Prefix characters; 0 = the whole value
}

// ParseBlockingKey reads "field" or "field:N".
func ParseBlockingKey(s string) (BlockingKey, error) {
	field, n, ok := strings.Cut(strings.TrimSpace(s), ":")
	k := BlockingKey{Field: field}
	if ok {
		p, err := strconv.Atoi(n)
		if err != nil || p < 1 {
			return k, fmt.Errorf("%q: after the colon give the number of leading characters to block on, e.g. %s:3", s, field)
		}
		k.Prefix = p
	}
	return k, nil
}

func (c *checker) checkModel() {
	m := c.cfg.Unify.Model
	if m == nil {
		return
	}
	p := "unify.model"
	c.oneOf(p+".link", &m.Link, "link_and_dedupe", ModelLinkTypes, "link type")
	c.checkSourceList(p+".sources", m.Sources)
	if len(m.Sources) == 0 {
		m.Sources = append([]string(nil), c.cfg.Unify.Order...)
	}
	if m.Link == "link_only" && len(m.Sources) < 2 {
		c.errorf(p+".link", "link_only compares records of different sources; the model has %d source (use link_and_dedupe or dedupe_only)", len(m.Sources))
	}
	if len(m.Comparisons) == 0 {
		c.errorf(p+".comparisons", "the model needs at least one comparison, e.g. comparisons: [{field: person.last_name, preset: name}]")
	}
	names := map[string]bool{}
	for i, comp := range m.Comparisons {
		cp := fmt.Sprintf("%s.comparisons[%d]", p, i)
		if comp == nil {
			c.errorf(cp, "empty comparison; write {field: ..., preset: ...}")
			continue
		}
		c.checkComparison(cp, comp)
		if names[comp.Name] {
			c.errorf(cp+".name", "comparison name %q is used twice; give each comparison its own name", comp.Name)
		}
		names[comp.Name] = true
	}
	if len(m.Blocking) == 0 {
		c.errorf(p+".blocking", "the model needs at least one blocking rule, e.g. blocking: [[person.last_name], [person.birth_date]] (scoring every pair is quadratic)")
	}
	c.checkBlocking(p+".blocking", m.Blocking)
	c.checkBlocking(p+".training.blocking", m.Training.Blocking)
	if len(m.Training.Blocking) == 0 {
		m.Training.Blocking = m.Blocking
	}
	if m.Training.SamplePairs == 0 {
		m.Training.SamplePairs = DefaultSamplePairs
	} else if m.Training.SamplePairs < 1000 {
		c.errorf(p+".training.sample_pairs", "%d is too few to estimate u; use at least 1000 (default %d)", m.Training.SamplePairs, DefaultSamplePairs)
	}
	if m.Training.Seed == 0 {
		m.Training.Seed = 1
	}
	if m.Training.MaxIterations < 0 {
		c.errorf(p+".training.max_iterations", "%d is negative; use a positive count (default 200)", m.Training.MaxIterations)
	}
	if !c.present(p + ".threshold") {
		m.Threshold = DefaultModelThreshold
	} else if !(m.Threshold > 0 && m.Threshold < 1) {
		c.errorf(p+".threshold", "%g is not a match probability; use a number strictly between 0 and 1 such as 0.9", m.Threshold)
	}
	if !c.present(p + ".review_floor") {
		m.ReviewFloor = DefaultReviewFloor
	} else if !(m.ReviewFloor > 0 && m.ReviewFloor <= m.Threshold) {
		c.errorf(p+".review_floor", "%g must be a probability above 0 and at most the threshold %g", m.ReviewFloor, m.Threshold)
	}
	if m.File == "" {
		m.File = DefaultModelFile
	}
}

func (c *checker) checkComparison(p string, comp *Comparison) {
	c.checkMatchField(p+".field", comp.Field)
	if comp.Name == "" {
		comp.Name = comp.Field
	}
	switch {
	case comp.Preset != "" && len(comp.Levels) > 0:
		c.errorf(p+".levels", "give either preset or levels, not both")
	case comp.Preset == "" && len(comp.Levels) == 0:
		c.errorf(p, "give a preset (%s) or levels: [{kind: exact}, …]", strings.Join(ComparisonPresets, ", "))
	case comp.Preset != "":
		if c.oneOf(p+".preset", &comp.Preset, "", ComparisonPresets, "comparison preset") && slices.Contains(textKinds, comp.Preset) {
			c.checkFuzzyText(p+".preset", comp.Field)
		}
	}
	for i, l := range comp.Levels {
		lp := fmt.Sprintf("%s.levels[%d]", p, i)
		if l == nil {
			c.errorf(lp, "empty level; write {kind: exact}")
			continue
		}
		if c.oneOf(lp+".kind", &l.Kind, "", LevelKinds, "level kind") && slices.Contains(textKinds, l.Kind) {
			c.checkFuzzyText(lp+".kind", comp.Field)
		}
		if l.Part != "" {
			c.oneOf(lp+".part", &l.Part, "", LevelParts, "level part")
		}
		switch l.Kind {
		case "jaro_winkler", "jaccard":
			if !(l.Threshold > 0 && l.Threshold <= 1) {
				c.errorf(lp+".threshold", "a %s level needs a similarity threshold in (0, 1], e.g. threshold: 0.9", l.Kind)
			}
		case "levenshtein", "date_within_days", "numeric_within":
			if l.Threshold < 0 {
				c.errorf(lp+".threshold", "%g is negative; give the largest distance that still counts", l.Threshold)
			}
		}
		if l.TF && l.Kind != "exact" {
			c.errorf(lp+".tf", "term-frequency adjustment applies to exact levels only")
		}
	}
}

// checkMatchField checks that a field names an attribute field or an
// identifier type.
func (c *checker) checkMatchField(p, field string) {
	cfg := c.cfg
	_, isField := cfg.Fields[field]
	_, isIdent := cfg.Identifiers[field]
	switch {
	case field == "":
		c.errorf(p, "required: an attribute field or an identifier type to compare")
	case !isField && !isIdent:
		known := append(append([]string(nil), cfg.FieldOrder...), cfg.IdentOrder...)
		c.errorf(p, "%q is neither an attribute field nor an identifier type; %s", field, suggest(field, known, "known fields and identifier types"))
	}
}

func (c *checker) checkBlocking(p string, rules [][]string) {
	for i, rule := range rules {
		rp := fmt.Sprintf("%s[%d]", p, i)
		if len(rule) == 0 {
			c.errorf(rp, "an empty blocking rule would compare every pair; list at least one field")
		}
		for j, key := range rule {
			kp := fmt.Sprintf("%s[%d]", rp, j)
			k, err := ParseBlockingKey(key)
			if err != nil {
				c.errorf(kp, "%v", err)
				continue
			}
			c.checkMatchField(kp, k.Field)
		}
	}
}
