package demo

import (
	_ "embed"
	"strings"
)

// coffeeExample is a verbatim copy of examples/coffee/knit.yaml (go:embed
// cannot reach outside the package). A test fails when the two differ;
// `go generate ./demo` refreshes the copy.
//
//go:generate cp ../examples/coffee/knit.yaml coffee.knit.yaml
//go:embed coffee.knit.yaml
var coffeeExample string

// coffeeConfig is the example's configuration with the generated-file mark
// in place of the editor schema comment, whose relative path would not
// resolve from an arbitrary folder. The data file names are the example's.
var coffeeConfig = generatedMark + " from the coffee chain example (examples/coffee).\n" +
	"# truth.csv maps every record key to the real person behind it.\n" +
	dropSchemaComment(coffeeExample)

func dropSchemaComment(yaml string) string {
	if first, rest, ok := strings.Cut(yaml, "\n"); ok && strings.HasPrefix(first, "# yaml-language-server:") {
		return rest
	}
	return yaml
}
