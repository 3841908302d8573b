package segment

import (
	"fmt"
	"strings"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/similarity"
)

// SyntaxError is a mistake in a rule at a position: a syntax error from
// Parse or a meaning error from Compile (an unknown field, an operator that
// does not fit the field's type). Col is the 1-based rune column.
type SyntaxError struct {
	Line, Col int
	Msg       string
	// Source is the rule's text; when set, Error shows the line with a
	// caret under the mistake. Parse sets it; CompileRule sets it for
	// compile errors.
	Source string
}

// Error renders "line:col: message" and, when the source is known, the
// offending line with a caret under the column.
func (e *SyntaxError) Error() string {
	s := fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg)
	lines := strings.Split(e.Source, "\n")
	if e.Source == "" || e.Line < 1 || e.Line > len(lines) {
		return s
	}
	line := lines[e.Line-1]
	var pad strings.Builder
	for i, r := range []rune(line) {
		if i >= e.Col-1 {
			break
		}
		if r == '\t' {
			pad.WriteRune('\t') // keep the caret aligned under tabs
		} else {
			pad.WriteRune(' ')
		}
	}
	return s + "\n\t" + line + "\n\t" + pad.String() + "^"
}

// Unwrap makes a rule error an invalid-input error of knit, so the CLI and
// server map it like every other user mistake.
func (e *SyntaxError) Unwrap() error {
	return knit.Errorf(knit.EINVALID, "%d:%d: %s", e.Line, e.Col, e.Msg)
}

func errorAt(p Pos, format string, args ...any) *SyntaxError {
	return &SyntaxError{Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)}
}

// suggest returns ` (did you mean "x"?)` for the closest candidate within a
// small edit distance of name, or "".
func suggest(name string, candidates []string) string {
	best, bestDist := "", -1
	lower := strings.ToLower(name)
	for _, c := range candidates {
		d := similarity.Levenshtein(lower, strings.ToLower(c))
		if bestDist < 0 || d < bestDist || (d == bestDist && c < best) {
			best, bestDist = c, d
		}
	}
	limit := max(2, len([]rune(name))/3)
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
