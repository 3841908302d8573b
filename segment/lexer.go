package segment

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokenKind int

const (
	tokEOF    tokenKind = iota
	tokWord             // a keyword or a name: did, known, person.city
	tokString           // "text"; the token's text is the unescaped value
	tokNumber           // 3, -1.5
	tokDate             // 2024-01-31
	tokLParen
	tokRParen
	tokComma
	tokOp // = != <> < <= > >=
)

type token struct {
	kind tokenKind
	text string
	pos  Pos
}

// is reports whether t is the keyword kw (keywords are case-insensitive).
func (t token) is(kw string) bool {
	return t.kind == tokWord && strings.EqualFold(t.text, kw)
}

// describe names a token for an error message.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "the end of the rule"
	case tokString:
		return quote(t.text)
	}
	return t.text
}

// lexer turns a rule into tokens on demand, so a syntax error early in a
// rule is reported before a lexical error later in it.
type lexer struct {
	src  string
	off  int // byte offset of the next rune
	line int
	col  int
}

func newLexer(src string) *lexer { return &lexer{src: src, line: 1, col: 1} }

func (l *lexer) peekRune(ahead int) rune {
	off := l.off
	for ; ahead > 0 && off < len(l.src); ahead-- {
		_, n := utf8.DecodeRuneInString(l.src[off:])
		off += n
	}
	if off >= len(l.src) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(l.src[off:])
	return r
}

func (l *lexer) advance() rune {
	r, n := utf8.DecodeRuneInString(l.src[l.off:])
	l.off += n
	if r == '\n' {
		l.line++
		l.col = 1
	} else {
		l.col++
	}
	return r
}

func isDigit(r rune) bool     { return r >= '0' && r <= '9' }
func isWordStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isWordPart(r rune) bool {
	return r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// next returns the next token or a *SyntaxError.
func (l *lexer) next() (token, error) {
	for {
		r := l.peekRune(0)
		switch {
		case r == ' ' || r == '\t' || r == '\r' || r == '\n':
			l.advance()
			continue
		case r == '#': // a comment runs to the end of the line
			for r := l.peekRune(0); r != -1 && r != '\n'; r = l.peekRune(0) {
				l.advance()
			}
			continue
		}
		break
	}
	start := Pos{l.line, l.col}
	r := l.peekRune(0)
	switch {
	case r == -1:
		return token{tokEOF, "", start}, nil
	case r == '"':
		return l.lexString(start)
	case isDigit(r) || (r == '-' && isDigit(l.peekRune(1))):
		return l.lexNumber(start)
	case isWordStart(r):
		begin := l.off
		for isWordPart(l.peekRune(0)) {
			l.advance()
		}
		return token{tokWord, l.src[begin:l.off], start}, nil
	case r == '(' || r == ')' || r == ',':
		l.advance()
		kind := map[rune]tokenKind{'(': tokLParen, ')': tokRParen, ',': tokComma}[r]
		return token{kind, string(r), start}, nil
	case r == '=':
		l.advance()
		return token{tokOp, "=", start}, nil
	case r == '<' || r == '>' || r == '!':
		l.advance()
		op := string(r)
		if n := l.peekRune(0); n == '=' || (r == '<' && n == '>') {
			l.advance()
			op += string(n)
		}
		if op == "!" {
			return token{}, errorAt(start, `unexpected "!": write != for "not equal", or not before a condition`)
		}
		return token{tokOp, op, start}, nil
	}
	return token{}, errorAt(start, "unexpected character %q: expected a condition, a quoted string, a number or a date", r)
}

// lexString reads a double-quoted string with \" and \\ escapes. A string
// may not span lines, so a missing closing quote is found on its own line.
func (l *lexer) lexString(start Pos) (token, error) {
	l.advance() // opening quote
	var b strings.Builder
	for {
		r := l.peekRune(0)
		switch r {
		case -1, '\n':
			return token{}, errorAt(start, `unterminated string: add the closing " on the same line`)
		case '"':
			l.advance()
			return token{tokString, b.String(), start}, nil
		case '\\':
			escAt := Pos{l.line, l.col}
			l.advance()
			e := l.peekRune(0)
			if e != '"' && e != '\\' {
				return token{}, errorAt(escAt, `unknown escape in string: only \" and \\ are allowed`)
			}
			l.advance()
			b.WriteRune(e)
		default:
			l.advance()
			b.WriteRune(r)
		}
	}
}

// lexNumber reads -?digits(.digits)? or a date YYYY-MM-DD.
func (l *lexer) lexNumber(start Pos) (token, error) {
	begin := l.off
	if isDateAhead(l.src[l.off:]) {
		for range 10 {
			l.advance()
		}
		return token{tokDate, l.src[begin:l.off], start}, nil
	}
	if l.peekRune(0) == '-' {
		l.advance()
	}
	for isDigit(l.peekRune(0)) {
		l.advance()
	}
	if l.peekRune(0) == '.' {
		if !isDigit(l.peekRune(1)) {
			return token{}, errorAt(Pos{l.line, l.col}, "expected digits after the decimal point")
		}
		l.advance()
		for isDigit(l.peekRune(0)) {
			l.advance()
		}
	}
	return token{tokNumber, l.src[begin:l.off], start}, nil
}

// isDateAhead reports whether s starts with NNNN-NN-NN not followed by
// another digit.
func isDateAhead(s string) bool {
	if len(s) < 10 {
		return false
	}
	for i := range 10 {
		if (i == 4 || i == 7) != (s[i] == '-') || (i != 4 && i != 7 && !isDigit(rune(s[i]))) {
			return false
		}
	}
	return len(s) == 10 || !isDigit(rune(s[10]))
}
