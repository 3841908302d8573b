package config

import _ "embed"

//go:embed knit.schema.json
var schema []byte

// Schema returns the JSON Schema (draft 2020-12) of knit.yaml, for editors
// (yaml-language-server) and for `knit` to write next to a new project.
// A test keeps its keys and allowed values in step with the Go types.
func Schema() []byte {
	return append([]byte(nil), schema...)
}
