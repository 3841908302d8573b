package engine

// Args collects positional parameters while a query is built, so that every
// value reaches the engine as a parameter and never as SQL text.
type Args struct {
	d    Dialect
	List []any
}

// NewArgs returns an empty parameter list for dialect d.
func NewArgs(d Dialect) *Args { return &Args{d: d} }

// Add appends v and returns its placeholder.
func (a *Args) Add(v any) string {
	a.List = append(a.List, v)
	return a.d.Param(len(a.List))
}

// Rebind rewrites the ? placeholders of a query written once for every
// engine into the dialect's own ($1, $2… for PostgreSQL). Queries passed
// here contain no ? inside string literals.
func Rebind(d Dialect, query string) string {
	if d.Param(1) == "?" {
		return query
	}
	var b []byte
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b = append(b, d.Param(n)...)
			continue
		}
		b = append(b, query[i])
	}
	return string(b)
}
