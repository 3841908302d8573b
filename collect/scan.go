package collect

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// A validating JSON scanner for the collection hot path. encoding/json
// reads each message several times (validation, a map of raw values, one
// decode per string, a sorted re-encode); at tens of thousands of events a
// second that was most of the server's CPU. This scanner validates a body
// once, as encoding/json's Valid does, and hands out the raw spans of an
// object's members, which parseMessage copies into the stored message.

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// member is one member of a JSON object: its key (decoded) and its raw
// value, a span of the scanned input.
type member struct {
	key []byte // raw, between the quotes
	esc bool   // the key holds escapes
	val []byte
	// spaced says the value holds whitespace between tokens (it is
	// compacted before it is stored).
	spaced bool
}

// object is the members of a JSON object in input order.
type object []member

// get returns the value of key; with duplicate keys the last wins, as in
// encoding/json.
func (o object) get(key string) ([]byte, bool) {
	for i := len(o) - 1; i >= 0; i-- {
		if keyIs(o[i].key, o[i].esc, key) {
			return o[i].val, true
		}
	}
	return nil, false
}

// sameKey reports whether two members have the same key.
func sameKey(a, b *member) bool {
	if !a.esc && !b.esc {
		return string(a.key) == string(b.key)
	}
	return a.name() == b.name()
}

// name returns a member's decoded key.
func (m *member) name() string { return decodeString(m.key, m.esc) }

// has reports whether o holds a member with x's key.
func (o object) has(x *member) bool {
	for i := range o {
		if sameKey(&o[i], x) {
			return true
		}
	}
	return false
}

// str returns a string member's value, "" for anything else.
func (o object) str(key string) string {
	v, _ := o.get(key)
	return jsonString(v)
}

type scanner struct {
	b      []byte
	i      int
	depth  int
	spaced bool // whitespace was skipped inside the current value
}

type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s (at byte %d)", e.msg, e.off) }

func (s *scanner) fail(format string, args ...any) error {
	return &syntaxError{msg: fmt.Sprintf(format, args...), off: s.i}
}

// space skips whitespace.
func (s *scanner) space() {
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
			continue
		}
		break
	}
	if s.i > start {
		s.spaced = true
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// parseObject validates that b is exactly one JSON object (surrounding
// whitespace allowed) and returns its members.
func parseObject(b []byte) (object, error) { return appendObject(make(object, 0, 16), b) }

// appendObject is parseObject appending to members (a reused buffer).
func appendObject(members object, b []byte) (object, error) {
	s := &scanner{b: b}
	s.space()
	if s.peek() != '{' {
		if s.i >= len(b) {
			return nil, s.fail("unexpected end of JSON input")
		}
		if err := s.value(); err != nil {
			return nil, err
		}
		return nil, &syntaxError{msg: "not a JSON object", off: 0}
	}
	err := s.object(func(key []byte, esc bool, val []byte, spaced bool) {
		members = append(members, member{key: key, esc: esc, val: val, spaced: spaced})
	})
	if err != nil {
		return nil, err
	}
	s.space()
	if s.i < len(b) {
		return nil, s.fail("invalid character %q after top-level value", b[s.i])
	}
	return members, nil
}

// splitArray returns the raw elements of a JSON array that was already
// validated.
func splitArray(b []byte) ([][]byte, error) {
	s := &scanner{b: b}
	var out [][]byte
	err := s.array(func(el []byte) { out = append(out, el) })
	return out, err
}

// value validates the value at the current position and moves past it.
func (s *scanner) value() error {
	s.space()
	if s.i >= len(s.b) {
		return s.fail("unexpected end of JSON input")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(nil)
	case c == '[':
		return s.array(nil)
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	default:
		return s.fail("invalid character %q looking for beginning of value", c)
	}
}

// enter moves past an opening { or [ and reports whether the container is
// empty (its closing byte follows).
func (s *scanner) enter(closing byte) (empty bool, err error) {
	s.depth++
	if s.depth > maxDepth {
		return false, s.fail("exceeded max depth")
	}
	s.i++
	s.space()
	if s.peek() == closing {
		s.i++
		s.depth--
		return true, nil
	}
	return false, nil
}

// next moves past the separator after an element and reports whether it
// was the container's closing byte.
func (s *scanner) next(closing byte, after string) (done bool, err error) {
	s.space()
	switch s.peek() {
	case ',':
		s.i++
		return false, nil
	case closing:
		s.i++
		s.depth--
		return true, nil
	}
	if s.i >= len(s.b) {
		return false, s.fail("unexpected end of JSON input")
	}
	return false, s.fail("invalid character %q after %s", s.b[s.i], after)
}

// object scans an object; member, when not nil, gets each member's raw
// key, whether the key has escapes, its raw value and whether the value
// holds whitespace.
func (s *scanner) object(member func(key []byte, esc bool, val []byte, spaced bool)) error {
	if empty, err := s.enter('}'); empty || err != nil {
		return err
	}
	for {
		s.space()
		if s.peek() != '"' {
			return s.fail("invalid character %q looking for beginning of object key string", s.peek())
		}
		key, esc, err := s.str()
		if err != nil {
			return err
		}
		s.space()
		if s.peek() != ':' {
			return s.fail("invalid character %q after object key", s.peek())
		}
		s.i++
		s.space()
		outer := s.spaced
		s.spaced = false
		start := s.i
		if err := s.value(); err != nil {
			return err
		}
		if member != nil {
			member(key, esc, s.b[start:s.i], s.spaced)
		}
		s.spaced = s.spaced || outer
		if done, err := s.next('}', "object key:value pair"); done || err != nil {
			return err
		}
	}
}

func (s *scanner) array(elem func(el []byte)) error {
	if empty, err := s.enter(']'); empty || err != nil {
		return err
	}
	for {
		s.space()
		start := s.i
		if err := s.value(); err != nil {
			return err
		}
		if elem != nil {
			elem(s.b[start:s.i])
		}
		if done, err := s.next(']', "array element"); done || err != nil {
			return err
		}
	}
}

// str scans a string and returns its raw content (between the quotes)
// and whether it holds escapes.
func (s *scanner) str() (raw []byte, esc bool, err error) {
	s.i++
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, esc, nil
		case c == '\\':
			esc = true
			s.i++
			if s.i >= len(s.b) {
				return nil, false, s.fail("unexpected end of JSON input")
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				s.i++
				for k := 0; k < 4; k++ {
					if s.i >= len(s.b) {
						return nil, false, s.fail("unexpected end of JSON input")
					}
					if !isHex(s.b[s.i]) {
						return nil, false, s.fail("invalid character %q in \\u hexadecimal character escape", s.b[s.i])
					}
					s.i++
				}
			default:
				return nil, false, s.fail("invalid character %q in string escape code", s.b[s.i])
			}
		case c < 0x20:
			return nil, false, s.fail("invalid character %q in string literal", c)
		default:
			s.i++
		}
	}
	return nil, false, s.fail("unexpected end of JSON input")
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	default:
		return s.fail("invalid character %q in numeric literal", c)
	}
	if s.peek() == '.' {
		s.i++
		if !isDigit(s.peek()) {
			return s.fail("invalid character %q after decimal point in numeric literal", s.peek())
		}
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !isDigit(s.peek()) {
			return s.fail("invalid character %q in exponent of numeric literal", s.peek())
		}
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	}
	return nil
}

func (s *scanner) literal(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return s.fail("invalid literal: want %s", word)
	}
	s.i += len(word)
	return nil
}

// decodeString returns the value of a string's raw content; escapes and
// invalid UTF-8 take encoding/json's path, so the result is the same.
func decodeString(raw []byte, esc bool) string {
	if !esc && utf8.Valid(raw) {
		return string(raw)
	}
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	var v string
	json.Unmarshal(quoted, &v)
	return v
}

// lookup returns the raw value at a dotted path (traits.email) of a JSON
// object that is known to be valid, or false.
func lookup(b []byte, path string) ([]byte, bool) {
	for {
		part, rest, nested := cutDot(path)
		if len(b) == 0 || b[0] != '{' {
			return nil, false
		}
		var found []byte
		s := &scanner{b: b}
		if s.object(func(key []byte, esc bool, val []byte, _ bool) {
			if keyIs(key, esc, part) {
				found = val // the last duplicate wins, as in encoding/json
			}
		}) != nil || found == nil {
			return nil, false
		}
		if !nested {
			return found, true
		}
		b, path = found, rest
	}
}

func cutDot(path string) (part, rest string, found bool) {
	for i := 0; i < len(path); i++ {
		if path[i] == '.' {
			return path[:i], path[i+1:], true
		}
	}
	return path, "", false
}

func keyIs(raw []byte, esc bool, want string) bool {
	if !esc {
		return string(raw) == want
	}
	return decodeString(raw, true) == want
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			enc, _ := json.Marshal(s)
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
