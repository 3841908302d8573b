package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/knit-cdp/knit"
)

// Load reads and validates a project. path is a project folder (knit.yaml is
// read from it) or the path of a YAML file. A missing file is ENOTFOUND;
// anything wrong inside it is one EINVALID error listing every problem, one
// per line, as "file:line:column: key.path: what is wrong; what is allowed".
func Load(path string) (*Project, error) {
	file := path
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		file = filepath.Join(path, FileName)
	}
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, knit.Errorf(knit.ENOTFOUND, "%s not found: a knit project is a folder holding %s (see docs/configuration.md)", file, FileName)
	}
	if err != nil {
		return nil, knit.Wrap(knit.EINTERNAL, err, "read %s", file)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, knit.Wrap(knit.EINTERNAL, err, "resolve %s", file)
	}
	cfg, err := Parse(displayName(file), data)
	if err != nil {
		return nil, err
	}
	return &Project{Dir: filepath.Dir(abs), Path: abs, Config: *cfg}, nil
}

// displayName is the file name used in messages: the path as the user gave
// it, made relative to the working directory when it is absolute and lies
// below it, so that messages stay short and editors can open them.
func displayName(file string) string {
	file = filepath.Clean(file)
	if !filepath.IsAbs(file) {
		return file
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, file); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return file
}

var yamlSyntaxError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse decodes, defaults and validates knit.yaml content. name is the file
// name used in messages.
func Parse(name string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		// The YAML parser stops at its first syntax error; give it the same
		// file:line: shape as the other messages.
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlSyntaxError.FindStringSubmatch(err.Error()); m != nil {
			msg = m[1] + ": " + m[2]
		}
		return nil, knit.Errorf(knit.EINVALID, "%s:%s (YAML syntax)", name, msg)
	}
	d := newDecoder()
	var cfg Config
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	if doc.Kind != 0 { // an empty file is an empty configuration
		d.decode(doc, reflect.ValueOf(&cfg).Elem(), "")
	}
	c := &checker{decoder: d, cfg: &cfg}
	c.check()
	if problems := c.report(); len(problems) > 0 {
		return nil, knit.Errorf(knit.EINVALID, "%s", formatProblems(name, problems))
	}
	return &cfg, nil
}

// report merges decoding and validation problems in file order. A
// validation problem at or below a path that already failed to decode is
// dropped: "file: expected text" needs no "file: required" after it.
func (c *checker) report() []problem {
	all := append([]problem(nil), c.decoder.problems...)
	for _, p := range c.problems {
		if !c.decodeFailedAt(p.path) {
			all = append(all, p)
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].pos.line != all[j].pos.line {
			return all[i].pos.line < all[j].pos.line
		}
		return all[i].pos.column < all[j].pos.column
	})
	return all
}

func (c *checker) decodeFailedAt(path string) bool {
	for _, p := range c.decoder.problems {
		if p.path == path || strings.HasPrefix(path, p.path+".") || strings.HasPrefix(path, p.path+"[") {
			return true
		}
	}
	return false
}

func formatProblems(name string, problems []problem) string {
	lines := make([]string, 0, len(problems))
	seen := map[string]bool{}
	for _, p := range problems {
		line := name + ":" + strconv.Itoa(max(p.pos.line, 1)) + ":" + strconv.Itoa(max(p.pos.column, 1)) + ": "
		if p.path != "" {
			line += p.path + ": "
		}
		line += p.message
		if !seen[line] {
			seen[line] = true
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// checker validates a decoded Config and fills its defaults. It reports
// problems at the position the decoder recorded for each path.
type checker struct {
	decoder  *decoder
	cfg      *Config
	problems []problem
}

// errorf records a problem at path. A path that is absent from the file (a
// missing required key) is placed at its nearest present parent key.
func (c *checker) errorf(path, format string, args ...any) {
	c.problems = append(c.problems, problem{pos: c.at(path), path: path, message: fmt.Sprintf(format, args...)})
}

func (c *checker) at(path string) position {
	if pos, ok := c.decoder.valuePos[path]; ok {
		return pos
	}
	if pos, ok := c.decoder.keyPos[path]; ok {
		return pos
	}
	for p := parentPath(path); p != ""; p = parentPath(p) {
		if pos, ok := c.decoder.keyPos[p]; ok {
			return pos
		}
		if pos, ok := c.decoder.valuePos[p]; ok {
			return pos
		}
	}
	if pos, ok := c.decoder.valuePos[""]; ok {
		return pos
	}
	return position{1, 1}
}

// keyAt reports at the key of path rather than its value: used for problems
// with a name (a source or field name) rather than with its settings.
func (c *checker) keyErrorf(path, format string, args ...any) {
	pos, ok := c.decoder.keyPos[path]
	if !ok {
		pos = c.at(path)
	}
	c.problems = append(c.problems, problem{pos: pos, path: path, message: fmt.Sprintf(format, args...)})
}

func (c *checker) present(path string) bool {
	_, ok := c.decoder.keyPos[path]
	return ok
}

func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}
