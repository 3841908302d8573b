package collect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// The scanner must accept exactly what encoding/json accepts.
var scanCases = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":-0.5e+10,"b":[1,2,{"c":null}],"d":true,"e":false}`,
	`{"a":"\u00e9\n\"\\\/"}`, `{"a\u0062":1}`, `{"a":[]}`, `{"a":[ ]}`, "{\"a\":\t\"x\"\r\n}",
	`{"a":1,"a":2}`, `{"a":"é"}`, `{"a":1e5}`, `{"a":0}`, `{"a":-0}`, `{"a":1.0E-3}`,
	// invalid
	``, ` `, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`,
	`{"a":-}`, `{"a":1e}`, `{"a":+1}`, `{"a":tru}`, `{"a":nul}`, `{"a":"\x"}`, `{"a":"\u12"}`,
	"{\"a\":\"\x01\"}", `{"a":"x}`, `{"a":[1,]}`, `{"a":[1 2]}`, `{"a":1}x`, `{"a":1}{}`, `{a:1}`,
	`{"a":1 "b":2}`, `[1]`, `"x"`, `1`, `null`, `{"a":NaN}`, `{"a":'x'}`,
}

func TestScannerAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range scanCases {
		checkScan(t, []byte(c))
	}
}

func checkScan(t *testing.T, b []byte) {
	t.Helper()
	obj, err := parseObject(b)
	var want map[string]json.RawMessage
	jsonErr := json.Unmarshal(b, &want)
	isObject := jsonErr == nil && want != nil
	if (err == nil) != isObject {
		t.Fatalf("%q: scanner error %v, encoding/json error %v (object %v)", b, err, jsonErr, isObject)
	}
	if err != nil {
		return
	}
	got := map[string]json.RawMessage{}
	for _, m := range obj {
		got[m.name()] = m.val
	}
	if len(got) != len(want) {
		t.Fatalf("%q: keys %v, want %v", b, got, want)
	}
	for k, w := range want {
		var a, b any
		json.Unmarshal(w, &a)
		json.Unmarshal(got[k], &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%q: %s = %s, want %s", b, k, got[k], w)
		}
	}
}

func FuzzScanner(f *testing.F) {
	for _, c := range scanCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkScan(t, b) })
}

// The stored message holds what the old map-based form held: the server's
// fields, the client's members (the last of duplicates), the batch's shared
// members the message lacks, and no write key.
func TestStoredForm(t *testing.T) {
	body := `{"writeKey":"secret","sentAt":"2024-05-01T12:10:00Z","context":{"ip":"1.2.3.4"},"batch":[
{"type":"track","event":"a","event":"Viewed", "userId":"u1","properties": { "sku" : "D-1" , "n":[1, 2] },"timestamp":"2024-05-01T12:05:00Z","writeKey":"x","receivedAt":"1999-01-01T00:00:00Z","w\u00e9ird":"é"},
{"type":"identify","anonymousId":"a1","context":{"own":true},"messageId":"m2"}]}`
	p, err := Parse([]byte(body), "batch", received)
	if err != nil {
		t.Fatal(err)
	}
	var first, second map[string]any
	if err := json.Unmarshal(p.Events[0].Stored, &first); err != nil {
		t.Fatalf("stored %s: %v", p.Events[0].Stored, err)
	}
	json.Unmarshal(p.Events[1].Stored, &second)
	want := map[string]any{
		"type": "track", "event": "Viewed", "userId": "u1", "messageId": p.Events[0].MessageID,
		"properties": map[string]any{"sku": "D-1", "n": []any{1.0, 2.0}},
		"timestamp":  "2024-05-01T11:55:00Z", "originalTimestamp": "2024-05-01T12:05:00Z",
		"receivedAt": "2024-05-01T12:00:00Z", "sentAt": "2024-05-01T12:10:00Z",
		"context": map[string]any{"ip": "1.2.3.4"}, "wéird": "é",
	}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("stored\n%v\nwant\n%v", first, want)
	}
	if bytes.Contains(p.Events[0].Stored, []byte(" ")) || bytes.Contains(p.Events[0].Stored, []byte("secret")) {
		t.Errorf("stored form not compact or holds the write key: %s", p.Events[0].Stored)
	}
	if c, _ := second["context"].(map[string]any); c["own"] != true || second["messageId"] != "m2" {
		t.Errorf("the message's own context must win: %v", second)
	}
	back, err := Decode(p.Events[0].Stored)
	if err != nil || back.UserID != "u1" || back.Event != "Viewed" || !back.Timestamp.Equal(p.Events[0].Timestamp) || back.Value("properties.sku") != "D-1" {
		t.Errorf("decode: %+v %v", back, err)
	}
}

func TestNotAnObject(t *testing.T) {
	for _, c := range []struct{ kind, body, want string }{
		{"track", `null`, "invalid JSON: not a JSON object"},
		{"batch", `{"batch":null}`, `"batch" must be an array`},
		{"batch", `{"batch":[null]}`, "batch[0] is not a JSON object"},
		{"batch", `{"batch":[{"type":"track"]}`, "invalid JSON"},
	} {
		if _, err := Parse([]byte(c.body), c.kind, received); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.body, err, c.want)
		}
	}
}

func BenchmarkParseBatch(b *testing.B) {
	var body bytes.Buffer
	body.WriteString(`{"batch":[`)
	for i := range 100 {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"type":"track","anonymousId":"v%d","event":"Product Viewed","messageId":"run-%d","properties":{"sku":"D-%d","price":12.5}}`, i, i, i%97)
	}
	body.WriteString(`]}`)
	b.SetBytes(int64(body.Len()))
	for b.Loop() {
		p, err := Parse(body.Bytes(), "batch", received)
		if err != nil || len(p.Events) != 100 {
			b.Fatal(err)
		}
		var out []string
		for _, ev := range p.Events {
			out = ev.Values([]string{"anonymousId", "userId", "traits.loyaltyId", "context.traits.loyaltyId", "traits.email"}, out[:0])
		}
	}
}

func TestValuesMatchValue(t *testing.T) {
	p, err := Parse([]byte(`{"userId":42,"traits":{"email":"a@b.c","email":"last@b.c","n":{"x":1}},"context":{"traits":{"loyaltyId":"707"}},"event":"e"}`), "track", received)
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{"userId", "anonymousId", "traits.email", "traits.n", "traits.n.x", "context.traits.loyaltyId", "event.x"}
	want := []string{"42", "", "last@b.c", "", "1", "707", ""}
	decoded, err := Decode(p.Events[0].Stored)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []*Event{p.Events[0], decoded} { // with and without the offsets of Parse
		got := ev.Values(paths, nil)
		for i, path := range paths {
			if got[i] != want[i] || ev.Value(path) != want[i] {
				t.Errorf("%s: Values %q, Value %q, want %q", path, got[i], ev.Value(path), want[i])
			}
		}
	}
}
