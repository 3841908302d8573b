package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/knit-cdp/knit/similarity"
)

// position is a place in knit.yaml, 1-based as editors count.
type position struct{ line, column int }

// problem is one thing wrong with the configuration.
type problem struct {
	pos     position
	path    string // dotted key path, e.g. sources.web.primary_key
	message string
}

// decoder turns a yaml.Node tree into a Config by walking the yaml tags of
// the Go types. It is written by hand rather than left to yaml.Decode so
// that it can report every problem at once (yaml.Decode stops at the
// first), reject unknown and duplicate keys with a position, and remember
// where each key was so that later validation can point at it.
type decoder struct {
	problems []problem
	// valuePos and keyPos map a dotted path to the position of its value and
	// of its key; validation uses them to place messages.
	valuePos map[string]position
	keyPos   map[string]position
	// order maps the path of a YAML mapping decoded into a Go map to its
	// keys in file order (Go maps forget it).
	order map[string][]string
}

func newDecoder() *decoder {
	return &decoder{
		valuePos: map[string]position{},
		keyPos:   map[string]position{},
		order:    map[string][]string{},
	}
}

func nodePos(n *yaml.Node) position { return position{n.Line, n.Column} }

func (d *decoder) addf(n *yaml.Node, path, format string, args ...any) {
	d.problems = append(d.problems, problem{pos: nodePos(n), path: path, message: fmt.Sprintf(format, args...)})
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

var (
	columnType    = reflect.TypeOf(Column{})
	timeFieldType = reflect.TypeOf(TimeField{})
)

// decode fills v from n. path names n in messages.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.valuePos[path] = nodePos(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty value leaves the default in place
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.String:
		// Any scalar is accepted as text: a layout such as 2006-01-02 is a
		// YAML timestamp and max_rejected: 10 a YAML integer, yet both are
		// meant as strings here.
		if n.Kind != yaml.ScalarNode {
			d.addf(n, path, "expected a single value (text), got %s", describeNode(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 10, 64)
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!str") || err != nil {
			d.addf(n, path, "expected a whole number, got %s", describeNode(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float" && n.ShortTag() != "!!str") || err != nil {
			d.addf(n, path, "expected a number, got %s", describeNode(n))
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.addf(n, path, "expected true or false, got %s", describeNode(n))
			return
		}
		v.SetBool(b)
	default:
		panic("config: decoder does not handle " + v.Type().String())
	}
}

// describeNode says what the user wrote, for "expected X, got Y" messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping (key: value pairs)"
	case yaml.SequenceNode:
		return "a list"
	default:
		return strconv.Quote(n.Value)
	}
}

// yamlFields lists the yaml keys of a struct type in declaration order,
// with the index of the Go field each one fills.
func yamlFields(t reflect.Type) (keys []string, index map[string]int) {
	index = map[string]int{}
	for i := range t.NumField() {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		keys = append(keys, tag)
		index[tag] = i
	}
	return keys, index
}

// mappingPairs checks that n is a mapping with unique text keys and calls fn
// for each pair in file order.
func (d *decoder) mappingPairs(n *yaml.Node, path string, fn func(key string, keyNode, value *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.addf(n, path, "expected a mapping (key: value pairs), got %s", describeNode(n))
		return
	}
	seen := map[string]position{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		keyNode, value := n.Content[i], n.Content[i+1]
		key := keyNode.Value
		keyPath := joinPath(path, key)
		if keyNode.Kind != yaml.ScalarNode {
			d.addf(keyNode, path, "keys must be plain names, got %s", describeNode(keyNode))
			continue
		}
		if first, dup := seen[key]; dup {
			d.addf(keyNode, keyPath, "duplicate key; already set at line %d (each key may appear once)", first.line)
			continue
		}
		seen[key] = nodePos(keyNode)
		d.keyPos[keyPath] = nodePos(keyNode)
		fn(key, keyNode, value)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	// Shorthands: "Age: int" for a typed column and "updated_at: UpdatedAt"
	// for a time column in the default format.
	if n.Kind == yaml.ScalarNode {
		switch v.Type() {
		case columnType:
			v.Set(reflect.ValueOf(Column{Type: n.Value}))
			d.valuePos[joinPath(path, "type")] = nodePos(n)
			return
		case timeFieldType:
			v.Set(reflect.ValueOf(TimeField{Column: n.Value}))
			d.valuePos[joinPath(path, "column")] = nodePos(n)
			return
		case segmentType: // name: rule text
			v.Set(reflect.ValueOf(Segment{Rule: n.Value}))
			d.valuePos[joinPath(path, "rule")] = nodePos(n)
			return
		}
	}
	keys, index := yamlFields(v.Type())
	d.mappingPairs(n, path, func(key string, keyNode, value *yaml.Node) {
		i, known := index[key]
		if !known {
			d.addf(keyNode, joinPath(path, key), "unknown key; %s", suggest(key, keys, "allowed keys"))
			return
		}
		d.decode(value, v.Field(i), joinPath(path, key))
	})
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	var order []string
	d.mappingPairs(n, path, func(key string, _, value *yaml.Node) {
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(value, elem, joinPath(path, key))
		v.SetMapIndex(reflect.ValueOf(key), elem)
		order = append(order, key)
	})
	d.order[path] = order
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.addf(n, path, "expected a list such as [a, b], got %s", describeNode(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

// suggest returns `did you mean "x"?` for the known name nearest to got
// (Levenshtein distance at most 3, and less than the length of got so that
// a short typo is not "corrected" into an unrelated word), or the list of
// allowed names.
func suggest(got string, known []string, what string) string {
	best, bestDist := "", 4
	for _, k := range known {
		if dist := similarity.Levenshtein(got, k); dist < bestDist && dist < len([]rune(got)) {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	return what + ": " + strings.Join(sorted, ", ")
}
