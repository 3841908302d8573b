package collect

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/knit-cdp/knit"
)

var received = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func TestParseErrors(t *testing.T) {
	big := strings.Repeat("x", MaxEventBytes)
	many := `{"batch":[` + strings.TrimSuffix(strings.Repeat(`{"type":"track","event":"e","userId":"u"},`, MaxBatchEvents+1), ",") + `]}`
	for _, c := range []struct {
		name, kind, body, want string
	}{
		{"invalid JSON", "track", `{"event":`, "invalid JSON"},
		{"no ids", "track", `{"event":"Viewed"}`, "needs a userId or an anonymousId"},
		{"track without event", "track", `{"userId":"u1"}`, `needs an "event" name`},
		{"group without groupId", "group", `{"userId":"u1"}`, `needs a "groupId"`},
		{"alias without previousId", "alias", `{"userId":"u1"}`, `needs a "previousId"`},
		{"oversize event", "track", `{"userId":"u1","event":"e","properties":{"x":"` + big + `"}}`, "at most 32 KB per event"},
		{"batch not an array", "batch", `{"batch":{}}`, "must be an array"},
		{"batch without batch", "batch", `{"writeKey":"k"}`, `needs a "batch" array`},
		{"unknown type in batch", "batch", `{"batch":[{"type":"click","userId":"u"}]}`, `batch[0]: type "click" is not one of`},
		{"bad timestamp", "track", `{"userId":"u","event":"e","timestamp":"yesterday"}`, "timestamp \"yesterday\" is not an ISO 8601 time"},
		{"too many messages", "batch", many, "at most 2500"},
		{"oversize batch", "batch", `{"batch":[` + strings.TrimSuffix(strings.Repeat(`{"type":"track","event":"e","userId":"u","properties":{"x":"`+big[:20000]+`"}},`, 30), ",") + `]}`, "at most 500 KB per batch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.body), c.kind, received)
			if err == nil || knit.ErrorCode(err) != knit.EINVALID || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse: %v; want an invalid error containing %q", err, c.want)
			}
		})
	}
}

// The clock-skew rule of Segment: a client whose clock runs 10 minutes
// fast says it sent at 12:10 an event of 12:05; the event happened five
// minutes before it was received.
func TestTimestamps(t *testing.T) {
	for _, c := range []struct {
		name, fields string
		want         time.Time
	}{
		{"no client time", ``, received},
		{"timestamp without sentAt is kept", `,"timestamp":"2024-04-01T00:00:00Z"`, time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)},
		{"skew corrected", `,"timestamp":"2024-05-01T12:05:00Z","sentAt":"2024-05-01T12:10:00Z"`, received.Add(-5 * time.Minute)},
		{"originalTimestamp wins", `,"originalTimestamp":"2024-05-01T12:09:00Z","timestamp":"2000-01-01T00:00:00Z","sentAt":"2024-05-01T12:10:00Z"`, received.Add(-time.Minute)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse([]byte(`{"userId":"u","event":"e"`+c.fields+`}`), "track", received)
			if err != nil {
				t.Fatal(err)
			}
			ev := p.Events[0]
			if !ev.Timestamp.Equal(c.want) {
				t.Fatalf("timestamp %v, want %v", ev.Timestamp, c.want)
			}
			back, _ := Decode(ev.Stored)
			if !back.Timestamp.Equal(c.want) || !back.ReceivedAt.Equal(received) {
				t.Fatalf("stored timestamp %v receivedAt %v, want %v %v", back.Timestamp, back.ReceivedAt, c.want, received)
			}
		})
	}
}

func TestBatchSharedContextAndValues(t *testing.T) {
	body := `{"writeKey":"wk","context":{"traits":{"loyaltyId":707}},"batch":[
{"type":"identify","anonymousId":"Unknown1","userId":"Auth234","traits":{"email":"Jane@Example.com"},"messageId":"m1"},
{"type":"page","anonymousId":"Unknown1","name":"Decaf","context":{"ip":"1.2.3.4"}}]}`
	p, err := Parse([]byte(body), "batch", received)
	if err != nil {
		t.Fatal(err)
	}
	if p.WriteKey != "wk" || len(p.Events) != 2 {
		t.Fatalf("write key %q, %d events", p.WriteKey, len(p.Events))
	}
	id, page := p.Events[0], p.Events[1]
	if got := fmt.Sprintln(id.MessageID, id.Value("traits.email"), id.Value("context.traits.loyaltyId")); got != "m1 Jane@Example.com 707\n" {
		t.Errorf("identify values: %s", got)
	}
	if page.Value("context.traits.loyaltyId") != "" || page.Name != "Decaf" || !strings.HasPrefix(page.MessageID, "knit-") {
		t.Errorf("page: own context must win over the batch's; got loyalty %q name %q messageId %q", page.Value("context.traits.loyaltyId"), page.Name, page.MessageID)
	}
	if bytes.Contains(id.Stored, []byte("wk")) {
		t.Errorf("the write key was stored: %s", id.Stored)
	}
	var m map[string]any
	json.Unmarshal(page.Stored, &m)
	if m["type"] != "page" || m["receivedAt"] == nil {
		t.Errorf("stored page lacks type or receivedAt: %s", page.Stored)
	}
}

func TestReadBody(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(`{"batch":[]}`))
	zw.Close()
	for _, c := range []struct {
		name, enc string
		body      []byte
		max       int64
		want, err string
	}{
		{"plain", "", []byte(`{"a":1}`), 100, `{"a":1}`, ""},
		{"gzip by header", "gzip", z.Bytes(), 100, `{"batch":[]}`, ""},
		{"gzip by magic", "", z.Bytes(), 100, `{"batch":[]}`, ""},
		{"too big after inflating", "gzip", z.Bytes(), 5, "", "exceeds"},
		{"bad gzip", "gzip", []byte("not gzip"), 100, "", "not valid gzip"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadBody(bytes.NewReader(c.body), c.enc, c.max)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || string(got) != c.want {
				t.Fatalf("got %q %v, want %q", got, err, c.want)
			}
		})
	}
}

// Parse keeps no part of the body it is given, so the body's buffer can
// be reused (ReadBodyInto): overwriting it changes no parsed event.
func TestParseKeepsNoPartOfTheBody(t *testing.T) {
	body := []byte(`{"writeKey":"wk","context":{"traits":{"loyaltyId":707}},"batch":[
{"type":"identify","anonymousId":"Unknown1","userId":"Auth234","traits":{"email":"Jane@Example.com"},"messageId":"m1"},
{"type":"track","anonymousId":"Unknown1","event":"Product Viewed","properties":{"sku":"D-1"},"messageId":"m2"},
{"type":"page","anonymousId":"Unknown1","name":"Decaf","messageId":"m3"}]}`)
	p, err := Parse(body, "batch", received)
	if err != nil {
		t.Fatal(err)
	}
	show := func() string {
		out := p.WriteKey
		for _, ev := range p.Events {
			out += fmt.Sprintln(*ev, string(ev.Stored), ev.Value("traits.email"), ev.Value("context.traits.loyaltyId"), ev.Value("properties.sku"))
		}
		return out
	}
	before := show()
	for i := range body {
		body[i] = 'x'
	}
	if after := show(); after != before {
		t.Fatalf("overwriting the body changed the parsed events:\nbefore %s\nafter  %s", before, after)
	}
}
