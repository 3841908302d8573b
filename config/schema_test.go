package config

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

type jsonObject = map[string]any

func loadSchema(t *testing.T) jsonObject {
	t.Helper()
	var s jsonObject
	if err := json.Unmarshal(Schema(), &s); err != nil {
		t.Fatalf("knit.schema.json is not valid JSON: %v", err)
	}
	return s
}

func TestSchemaIsDraft202012(t *testing.T) {
	s := loadSchema(t)
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v; want the draft 2020-12 URI", s["$schema"])
	}
}

// resolve follows $ref and, for a value that may be written in a short form
// (anyOf [string, object]), picks the object form: the one with keys.
func resolve(t *testing.T, root, node jsonObject) jsonObject {
	t.Helper()
	for {
		if ref, ok := node["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/$defs/")
			def, ok := root["$defs"].(jsonObject)[name].(jsonObject)
			if !ok {
				t.Fatalf("dangling $ref %s", ref)
			}
			node = def
			continue
		}
		if alts, ok := node["anyOf"].([]any); ok && node["properties"] == nil {
			for _, alt := range alts {
				a := alt.(jsonObject)
				if a["properties"] != nil || a["$ref"] != nil {
					node = a
					break
				}
			}
		}
		return node
	}
}

// TestSchemaMatchesGoTypes walks the yaml tags of Config and the properties
// of the schema together and fails on any key one has and the other lacks,
// so that the schema editors see cannot drift from what Load accepts.
func TestSchemaMatchesGoTypes(t *testing.T) {
	root := loadSchema(t)
	var walk func(typ reflect.Type, node jsonObject, path string)
	walk = func(typ reflect.Type, node jsonObject, path string) {
		node = resolve(t, root, node)
		switch typ.Kind() {
		case reflect.Pointer:
			walk(typ.Elem(), node, path)
		case reflect.Struct:
			if node["additionalProperties"] != false {
				t.Errorf("%s: schema object lacks additionalProperties: false", path)
			}
			props, _ := node["properties"].(jsonObject)
			keys, index := yamlFields(typ)
			for _, key := range keys {
				prop, ok := props[key].(jsonObject)
				if !ok {
					t.Errorf("%s.%s: in the Go type but not in the schema", path, key)
					continue
				}
				if prop["description"] == nil && resolve(t, root, prop)["description"] == nil {
					t.Errorf("%s.%s: schema property has no description", path, key)
				}
				walk(typ.Field(index[key]).Type, prop, path+"."+key)
			}
			for key := range props {
				if _, ok := index[key]; !ok {
					t.Errorf("%s.%s: in the schema but not in the Go type", path, key)
				}
			}
		case reflect.Map:
			elem, ok := node["additionalProperties"].(jsonObject)
			if !ok {
				t.Errorf("%s: a Go map needs a schema additionalProperties for its values", path)
				return
			}
			walk(typ.Elem(), elem, path+".*")
		case reflect.Slice:
			items, ok := node["items"].(jsonObject)
			if !ok {
				t.Errorf("%s: a Go slice needs schema items", path)
				return
			}
			walk(typ.Elem(), items, path+"[]")
		case reflect.Int, reflect.Bool:
			want := map[reflect.Kind]string{reflect.Int: "integer", reflect.Bool: "boolean"}[typ.Kind()]
			if node["type"] != want {
				t.Errorf("%s: schema type %v; the Go field is %s", path, node["type"], want)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), root, "knit.yaml")
}

// TestSchemaEnumsMatchValidation keeps the schema's allowed values equal to
// the ones Load checks.
func TestSchemaEnumsMatchValidation(t *testing.T) {
	root := loadSchema(t)
	defs := root["$defs"].(jsonObject)
	prop := func(def, key string) jsonObject {
		return defs[def].(jsonObject)["properties"].(jsonObject)[key].(jsonObject)
	}
	enumOf := func(node jsonObject) []string {
		if alts, ok := node["anyOf"].([]any); ok {
			node = alts[0].(jsonObject) // the named values come first
		}
		var out []string
		for _, v := range node["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	columnShort := defs["column"].(jsonObject)["anyOf"].([]any)[0].(jsonObject)
	columnLong := defs["column"].(jsonObject)["anyOf"].([]any)[1].(jsonObject)["properties"].(jsonObject)["type"].(jsonObject)
	timeField := defs["timefield"].(jsonObject)["anyOf"].([]any)[1].(jsonObject)["properties"].(jsonObject)["format"].(jsonObject)
	tests := []struct {
		name   string
		schema []string
		goList []string
	}{
		{"source format", enumOf(prop("source", "format")), sourceFormats},
		{"source kind", enumOf(prop("source", "kind")), sourceKinds},
		{"column type (short form)", enumOf(columnShort), columnTypes},
		{"column type", enumOf(columnLong), columnTypes},
		{"time format keywords", enumOf(timeField), timeKeywords},
		{"identifier normalize", enumOf(prop("identifier", "normalize")), identNormalizers},
		{"field policy", enumOf(prop("field", "policy")), fieldPolicies},
		{"field normalize", enumOf(prop("field", "normalize")), fieldNormalizers},
		{"dedupe winner", enumOf(prop("dedupe", "winner")), dedupeWinners},
		{"condition precision", enumOf(prop("condition", "precision")), precisionLevels},
		{"condition metric", enumOf(prop("condition", "metric")), similarityMetrics},
	}
	for _, tt := range tests {
		a, b := slices.Clone(tt.schema), slices.Clone(tt.goList)
		sort.Strings(a)
		sort.Strings(b)
		if !slices.Equal(a, b) {
			t.Errorf("%s: schema allows %v, Load allows %v", tt.name, tt.schema, tt.goList)
		}
	}
	for name := range precisionThresholds {
		if !slices.Contains(precisionLevels, name) {
			t.Errorf("precision %q has a threshold but is not an allowed level", name)
		}
	}
}

// TestExampleProjectsLoad loads every example project in the repository.
func TestExampleProjectsLoad(t *testing.T) {
	paths, err := filepath.Glob("../examples/*/knit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, "testdata/coffee.yaml")
	for _, path := range paths {
		if _, err := Load(path); err != nil {
			t.Errorf("%s does not load:\n%v", path, err)
		}
	}
}
