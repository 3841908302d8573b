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
	"fmt"
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
	// Fields are the message's top-level keys, kept to find identifiers
	// at dotted paths (traits.email, context.traits.loyaltyId).
	Fields map[string]json.RawMessage
	// Stored is the normalised message as stored in the event log.
	Stored []byte
}

// Payload is a parsed request body.
type Payload struct {
	WriteKey string // from the body, when the client sent it there
	Events   []*Event
}

// ReadBody reads a request body, un-gzipping it when the client said so
// (or when it starts with gzip's magic bytes: some clients omit the
// header), refusing anything over max bytes after decompression.
func ReadBody(r io.Reader, contentEncoding string, max int64) ([]byte, error) {
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
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, knit.Errorf(knit.EINVALID, "cannot read the body: %v", err)
	}
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
// single-message endpoints or "batch". now is the receive time.
func Parse(body []byte, kind string, now time.Time) (*Payload, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, knit.Errorf(knit.EINVALID, "invalid JSON: %v", err)
	}
	p := &Payload{WriteKey: jsonString(top["writeKey"])}
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
	var batch []json.RawMessage
	if raw, ok := top["batch"]; !ok {
		return nil, knit.Errorf(knit.EINVALID, `a batch needs a "batch" array of messages`)
	} else if err := json.Unmarshal(raw, &batch); err != nil {
		return nil, knit.Errorf(knit.EINVALID, `"batch" must be an array of messages: %v`, err)
	}
	if len(batch) > MaxBatchEvents {
		return nil, knit.Errorf(knit.EINVALID, "the batch holds %d messages; at most %d", len(batch), MaxBatchEvents)
	}
	// Batch-level fields that Segment applies to every message lacking them.
	shared := map[string]json.RawMessage{}
	for _, k := range []string{"context", "integrations", "sentAt"} {
		if v, ok := top[k]; ok {
			shared[k] = v
		}
	}
	for i, raw := range batch {
		if len(raw) > MaxEventBytes {
			return nil, knit.Errorf(knit.EINVALID, "batch[%d] is %d bytes; at most %d KB per event", i, len(raw), MaxEventBytes>>10)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, knit.Errorf(knit.EINVALID, "batch[%d] is not a JSON object: %v", i, err)
		}
		ev, err := parseMessage(m, jsonString(m["type"]), shared, now)
		if err != nil {
			return nil, knit.Wrap(knit.EINVALID, err, "batch[%d]", i)
		}
		p.Events = append(p.Events, ev)
	}
	return p, nil
}

func parseMessage(m map[string]json.RawMessage, typ string, shared map[string]json.RawMessage, now time.Time) (*Event, error) {
	for k, v := range shared {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	if !isType(typ) {
		return nil, knit.Errorf(knit.EINVALID, "type %q is not one of %s", typ, strings.Join(Types, ", "))
	}
	ev := &Event{
		Type: typ, MessageID: idString(m["messageId"]), AnonymousID: idString(m["anonymousId"]), UserID: idString(m["userId"]),
		Event: jsonString(m["event"]), Name: jsonString(m["name"]), GroupID: idString(m["groupId"]), PreviousID: idString(m["previousId"]),
		ReceivedAt: now.UTC(), Fields: m,
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
	var err error
	if ev.Timestamp, err = timestamps(m, ev.ReceivedAt); err != nil {
		return nil, err
	}
	m["type"] = mustJSON(typ)
	m["messageId"] = mustJSON(ev.MessageID)
	m["receivedAt"] = mustJSON(ev.ReceivedAt.Format(time.RFC3339Nano))
	m["timestamp"] = mustJSON(ev.Timestamp.Format(time.RFC3339Nano))
	delete(m, "writeKey") // a secret: never stored
	ev.Stored, err = json.Marshal(m)
	return ev, err
}

// timestamps applies Segment's rules: originalTimestamp is the client's
// time of the call (its "timestamp", or "originalTimestamp"); when the
// client also says when it sent the message (sentAt), its clock skew is
// corrected: timestamp = receivedAt − (sentAt − originalTimestamp). A
// message without any client time happened when it was received.
func timestamps(m map[string]json.RawMessage, received time.Time) (time.Time, error) {
	orig, err := jsonTime(m, "originalTimestamp")
	if err != nil {
		return time.Time{}, err
	}
	ts, err := jsonTime(m, "timestamp")
	if err != nil {
		return time.Time{}, err
	}
	sent, err := jsonTime(m, "sentAt")
	if err != nil {
		return time.Time{}, err
	}
	if orig.IsZero() {
		orig = ts
	}
	if orig.IsZero() {
		return received, nil
	}
	m["originalTimestamp"] = mustJSON(orig.Format(time.RFC3339Nano))
	if sent.IsZero() {
		return orig.UTC(), nil
	}
	return received.Add(-sent.Sub(orig)).UTC(), nil
}

func jsonTime(m map[string]json.RawMessage, key string) (time.Time, error) {
	s := jsonString(m[key])
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

// jsonString returns a JSON string's value, or "" for anything else.
func jsonString(raw json.RawMessage) string {
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	var s string
	json.Unmarshal(raw, &s)
	return s
}

// idString returns an ID that clients may send as a string or a number.
func idString(raw json.RawMessage) string {
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

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("collect: marshal %T: %v", v, err))
	}
	return b
}

// Value returns the value at a dotted path of the message (traits.email,
// context.traits.loyaltyId) as text: strings as they are, numbers as
// written; "" when absent, null, or an object or array.
func (e *Event) Value(path string) string {
	parts := strings.Split(path, ".")
	raw, ok := e.Fields[parts[0]]
	for _, p := range parts[1:] {
		if !ok || len(raw) == 0 || raw[0] != '{' {
			return ""
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return ""
		}
		raw, ok = obj[p]
	}
	if !ok {
		return ""
	}
	return idString(raw)
}

// Decode turns a stored message back into an Event (for replay after a
// restart), without re-validating or re-stamping it.
func Decode(stored []byte) (*Event, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(stored, &m); err != nil {
		return nil, err
	}
	ev := &Event{
		Type: jsonString(m["type"]), MessageID: jsonString(m["messageId"]), AnonymousID: idString(m["anonymousId"]), UserID: idString(m["userId"]),
		Event: jsonString(m["event"]), Name: jsonString(m["name"]), GroupID: idString(m["groupId"]), PreviousID: idString(m["previousId"]),
		Fields: m, Stored: stored,
	}
	ev.Timestamp, _ = time.Parse(time.RFC3339Nano, jsonString(m["timestamp"]))
	ev.ReceivedAt, _ = time.Parse(time.RFC3339Nano, jsonString(m["receivedAt"]))
	return ev, nil
}
