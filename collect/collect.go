// Package collect parses and validates payloads of Segment's HTTP Tracking
// API (identify, track, page, screen, group, alias, batch), the protocol
// that Segment's, RudderStack's and many other client libraries speak. It
// applies Segment's limits and its timestamp rules, and turns each message
// into an Event: the fields knit needs for stitching and activities, plus
// the whole normalised message to store.
package collect

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/knit-cdp/knit"
)

// Segment's limits (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/).
const (
	MaxEventBytes  = 32 << 10
	MaxBatchBytes  = 500 << 10
	MaxBatchEvents = 2500
)

// Types of message, as written in a message's "type" field.
var Types = []string{"identify", "track", "page", "screen", "group", "alias"}

// Event is one accepted message.
type Event struct {
	Type        string
	MessageID   string
	AnonymousID string
	UserID      string
	Event       string // track: the event name
	Name        string // page, screen: the page name
	GroupID     string
	PreviousID  string // alias
	Timestamp   time.Time
	ReceivedAt  time.Time
	// Stored is the normalised message as stored in the event log.
	Stored []byte
	// top locates Stored's top-level members (set by Parse; nil after
	// Decode, which leaves Values to scan).
	top []field
}

// field is the offsets of a member's key (without quotes) and value.
type field struct{ k0, k1, v0, v1 int32 }

// Payload is a parsed request body.
type Payload struct {
	WriteKey string // from the body, when the client sent it there
	Events   []*Event
}

// ReadBody reads a request body, un-gzipping it when the client said so
// (or when it starts with gzip's magic bytes: some clients omit the
// header), refusing anything over max bytes after decompression.
func ReadBody(r io.Reader, contentEncoding string, max int64) ([]byte, error) {
	return ReadBodyInto(new(bytes.Buffer), r, contentEncoding, max)
}

// ReadBodyInto is ReadBody into buf, which the caller may reuse once it
// is done with the body: Parse keeps nothing of the body it is given
// (events hold copies), so a server can read every request into a buffer
// from a pool instead of growing a new one each time.
func ReadBodyInto(buf *bytes.Buffer, r io.Reader, contentEncoding string, max int64) ([]byte, error) {
	br := &peekReader{r: r}
	head, _ := br.peek(2)
	if strings.EqualFold(contentEncoding, "gzip") || bytes.Equal(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, knit.Errorf(knit.EINVALID, "the body is not valid gzip: %v", err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(r, max+1)); err != nil {
		return nil, knit.Errorf(knit.EINVALID, "cannot read the body: %v", err)
	}
	data := buf.Bytes()
	if int64(len(data)) > max {
		return nil, knit.Errorf(knit.EINVALID, "the body exceeds %d KB", max>>10)
	}
	return data, nil
}

type peekReader struct {
	r   io.Reader
	buf []byte
}

func (p *peekReader) peek(n int) ([]byte, error) {
	for len(p.buf) < n {
		b := make([]byte, n-len(p.buf))
		m, err := p.r.Read(b)
		p.buf = append(p.buf, b[:m]...)
		if err != nil {
			return p.buf, err
		}
	}
	return p.buf, nil
}

func (p *peekReader) Read(b []byte) (int, error) {
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		return n, nil
	}
	return p.r.Read(b)
}

// Parse parses the body of one endpoint. kind is a message type for the
// single-message endpoints or "batch". now is the receive time. The body
// is validated in one pass (see scan.go) and each message's stored form is
// built from the raw bytes of its members.
func Parse(body []byte, kind string, now time.Time) (*Payload, error) {
	top, err := parseObject(body)
	if err != nil {
		return nil, knit.Errorf(knit.EINVALID, "invalid JSON: %v", err)
	}
	p := &Payload{WriteKey: top.str("writeKey")}
	if kind != "batch" {
		if len(body) > MaxEventBytes {
			return nil, knit.Errorf(knit.EINVALID, "the event is %d bytes; at most %d KB per event", len(body), MaxEventBytes>>10)
		}
		ev, err := parseMessage(top, kind, nil, now)
		if err != nil {
			return nil, err
		}
		p.Events = []*Event{ev}
		return p, nil
	}
	if len(body) > MaxBatchBytes {
		return nil, knit.Errorf(knit.EINVALID, "the batch is %d bytes; at most %d KB per batch", len(body), MaxBatchBytes>>10)
	}
	raw, ok := top.get("batch")
	if !ok {
		return nil, knit.Errorf(knit.EINVALID, `a batch needs a "batch" array of messages`)
	}
	if raw[0] != '[' {
		return nil, knit.Errorf(knit.EINVALID, `"batch" must be an array of messages, not %.20s`, raw)
	}
	batch, err := splitArray(raw)
	if err != nil {
		return nil, knit.Errorf(knit.EINVALID, "invalid JSON: %v", err)
	}
	if len(batch) > MaxBatchEvents {
		return nil, knit.Errorf(knit.EINVALID, "the batch holds %d messages; at most %d", len(batch), MaxBatchEvents)
	}
	// Batch-level fields that Segment applies to every message lacking them.
	var shared object
	for _, m := range top {
		if keyIs(m.key, m.esc, "context") || keyIs(m.key, m.esc, "integrations") || keyIs(m.key, m.esc, "sentAt") {
			shared = append(shared, m)
		}
	}
	p.Events = make([]*Event, 0, len(batch))
	var m object // reused: parseMessage copies what it keeps
	for i, raw := range batch {
		if len(raw) > MaxEventBytes {
			return nil, knit.Errorf(knit.EINVALID, "batch[%d] is %d bytes; at most %d KB per event", i, len(raw), MaxEventBytes>>10)
		}
		if raw[0] != '{' {
			return nil, knit.Errorf(knit.EINVALID, "batch[%d] is not a JSON object: %.20s", i, raw)
		}
		m, err = appendObject(m[:0], raw)
		if err != nil {
			return nil, knit.Errorf(knit.EINVALID, "batch[%d] is not a JSON object: %v", i, err)
		}
		ev, err := parseMessage(m, typeOf(v(m, "type")), shared, now)
		if err != nil {
			return nil, knit.Wrap(knit.EINVALID, err, "batch[%d]", i)
		}
		p.Events = append(p.Events, ev)
	}
	return p, nil
}

// fieldsSet are the members the server writes itself; a client's own are
// replaced (writeKey, a secret, is dropped).
var fieldsSet = []string{"type", "messageId", "receivedAt", "timestamp", "writeKey"}

func parseMessage(m object, typ string, shared object, now time.Time) (*Event, error) {
	get := func(key string) []byte {
		if v, ok := m.get(key); ok {
			return v
		}
		v, _ := shared.get(key)
		return v
	}
	if !isType(typ) {
		return nil, knit.Errorf(knit.EINVALID, "type %q is not one of %s", typ, strings.Join(Types, ", "))
	}
	ev := &Event{
		Type: typeName(typ), MessageID: idString(get("messageId")), AnonymousID: idString(get("anonymousId")), UserID: idString(get("userId")),
		Event: jsonString(get("event")), Name: jsonString(get("name")), GroupID: idString(get("groupId")), PreviousID: idString(get("previousId")),
		ReceivedAt: now.UTC(),
	}
	switch {
	case ev.AnonymousID == "" && ev.UserID == "":
		return nil, knit.Errorf(knit.EINVALID, "a %s message needs a userId or an anonymousId", typ)
	case typ == "track" && ev.Event == "":
		return nil, knit.Errorf(knit.EINVALID, `a track message needs an "event" name`)
	case typ == "group" && ev.GroupID == "":
		return nil, knit.Errorf(knit.EINVALID, `a group message needs a "groupId"`)
	case typ == "alias" && ev.PreviousID == "":
		return nil, knit.Errorf(knit.EINVALID, `an alias message needs a "previousId"`)
	}
	if ev.MessageID == "" {
		// Segment assigns one; a message without it cannot be
		// de-duplicated on retry, which is the client's choice.
		ev.MessageID = "knit-" + uuid.NewString()
	}
	orig, err := timestamps(get, ev)
	if err != nil {
		return nil, err
	}
	ev.Stored = storedForm(m, shared, ev, orig)
	return ev, nil
}

// storedForm writes the normalised message: the server's fields first,
// then the client's members in their order (the last of duplicate keys;
// compacted), then the batch's shared members the message lacks.
func storedForm(m, shared object, ev *Event, orig time.Time) []byte {
	size := 160
	for _, x := range m {
		size += len(x.key) + len(x.val) + 4
	}
	b := make([]byte, 0, size)
	// Each member's offsets are kept (ev.top) so that reading identifier
	// paths later does not scan the message again.
	var k0, k1, v0 int
	ev.top = make([]field, 0, len(m)+len(shared)+5)
	key := func(k []byte) {
		b = append(b, ',', '"')
		k0 = len(b)
		b = append(b, k...)
		k1 = len(b)
		b = append(b, '"', ':')
		v0 = len(b)
	}
	done := func() { ev.top = append(ev.top, field{int32(k0), int32(k1), int32(v0), int32(len(b))}) }
	stamp := func(k []byte, t time.Time) {
		key(k)
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
		done()
	}
	key([]byte("type"))
	b = appendString(b, ev.Type)
	done()
	b[0] = '{' // the first member has no comma before it
	key([]byte("messageId"))
	b = appendString(b, ev.MessageID)
	done()
	stamp([]byte("receivedAt"), ev.ReceivedAt)
	stamp([]byte("timestamp"), ev.Timestamp)
	if !orig.IsZero() {
		stamp([]byte("originalTimestamp"), orig)
	}
	skip := func(x *member, in object, i int) bool {
		for _, k := range fieldsSet {
			if keyIs(x.key, x.esc, k) {
				return true
			}
		}
		if !orig.IsZero() && keyIs(x.key, x.esc, "originalTimestamp") {
			return true
		}
		for j := range in[i+1:] {
			if sameKey(x, &in[i+1+j]) {
				return true // a later duplicate wins
			}
		}
		return false
	}
	add := func(x *member) {
		key(x.key)
		if x.spaced {
			var c bytes.Buffer
			json.Compact(&c, x.val)
			b = append(b, c.Bytes()...)
		} else {
			b = append(b, x.val...)
		}
		done()
	}
	for i := range m {
		if !skip(&m[i], m, i) {
			add(&m[i])
		}
	}
	for i := range shared {
		if !m.has(&shared[i]) && !skip(&shared[i], shared, i) {
			add(&shared[i])
		}
	}
	return append(b, '}')
}

// typeOf returns the message type of a raw "type" value without
// allocating for the known ones.
func typeOf(raw []byte) string {
	if len(raw) > 2 && raw[0] == '"' {
		for _, x := range Types {
			if string(raw[1:len(raw)-1]) == x {
				return x
			}
		}
	}
	return jsonString(raw)
}

// typeName returns the constant string of a message type, so events share
// it instead of each holding a copy.
func typeName(t string) string {
	for _, x := range Types {
		if x == t {
			return x
		}
	}
	return t
}

// timestamps applies Segment's rules: originalTimestamp is the client's
// time of the call (its "timestamp", or "originalTimestamp"); when the
// client also says when it sent the message (sentAt), its clock skew is
// corrected: timestamp = receivedAt − (sentAt − originalTimestamp). A
// message without any client time happened when it was received. It sets
// ev.Timestamp and returns the original timestamp (zero: none).
func timestamps(get func(string) []byte, ev *Event) (time.Time, error) {
	orig, err := jsonTime(get, "originalTimestamp")
	if err != nil {
		return time.Time{}, err
	}
	ts, err := jsonTime(get, "timestamp")
	if err != nil {
		return time.Time{}, err
	}
	sent, err := jsonTime(get, "sentAt")
	if err != nil {
		return time.Time{}, err
	}
	if orig.IsZero() {
		orig = ts
	}
	switch {
	case orig.IsZero():
		ev.Timestamp = ev.ReceivedAt
	case sent.IsZero():
		ev.Timestamp = orig.UTC()
	default:
		ev.Timestamp = ev.ReceivedAt.Add(-sent.Sub(orig)).UTC()
	}
	return orig, nil
}

func jsonTime(get func(string) []byte, key string) (time.Time, error) {
	s := jsonString(get(key))
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, knit.Errorf(knit.EINVALID, "%s %q is not an ISO 8601 time such as 2024-05-01T10:00:00.000Z", key, s)
}

func isType(t string) bool {
	for _, x := range Types {
		if x == t {
			return true
		}
	}
	return false
}

// jsonString returns the value of a raw (valid) JSON string, or "" for
// anything else.
func jsonString(raw []byte) string {
	if len(raw) < 2 || raw[0] != '"' {
		return ""
	}
	return decodeString(raw[1:len(raw)-1], bytes.IndexByte(raw, '\\') >= 0)
}

// idString returns an ID that clients may send as a string or a number.
func idString(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' {
		return strings.TrimSpace(jsonString(raw))
	}
	if raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9' {
		return string(raw)
	}
	return ""
}

// Value returns the value at a dotted path of the message (traits.email,
// context.traits.loyaltyId) as text: strings as they are, numbers as
// written; "" when absent, null, or an object or array.
func (e *Event) Value(path string) string {
	raw, _ := lookup(e.Stored, path)
	return idString(raw)
}

// Values returns the values at several dotted paths (as Value does) with
// one scan of the message's top level, appending them to out.
func (e *Event) Values(paths []string, out []string) []string {
	var top object
	if e.top == nil {
		var err error
		if top, err = appendObject(make(object, 0, 16), e.Stored); err != nil {
			top = nil
		}
	}
	for _, path := range paths {
		first, rest, nested := cutDot(path)
		var raw []byte
		if e.top != nil {
			for _, f := range e.top {
				if k := e.Stored[f.k0:f.k1]; keyIs(k, bytes.IndexByte(k, '\\') >= 0, first) {
					raw = e.Stored[f.v0:f.v1]
				}
			}
		} else {
			raw, _ = top.get(first)
		}
		if raw != nil && nested {
			raw, _ = lookup(raw, rest)
		}
		out = append(out, idString(raw))
	}
	return out
}

// Decode turns a stored message back into an Event (for replay after a
// restart), without re-validating or re-stamping it. The event keeps
// stored as its Stored: the caller must not reuse it.
func Decode(stored []byte) (*Event, error) {
	m, err := parseObject(stored)
	if err != nil {
		return nil, err
	}
	ev := &Event{
		Type: typeOf(v(m, "type")), MessageID: m.str("messageId"), AnonymousID: idString(v(m, "anonymousId")), UserID: idString(v(m, "userId")),
		Event: m.str("event"), Name: m.str("name"), GroupID: idString(v(m, "groupId")), PreviousID: idString(v(m, "previousId")),
		Stored: stored,
	}
	ev.Timestamp, _ = time.Parse(time.RFC3339Nano, m.str("timestamp"))
	ev.ReceivedAt, _ = time.Parse(time.RFC3339Nano, m.str("receivedAt"))
	return ev, nil
}

func v(m object, key string) []byte {
	raw, _ := m.get(key)
	return raw
}
