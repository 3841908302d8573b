package server

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/insights"
	"github.com/knit-cdp/knit/lookup"
)

// Profile is the answer of GET /v1/profiles/{key}.
type Profile struct {
	CustomerID string `json:"customer_id"`
	// Via says how the key was found: identifier, record or customer_id;
	// PreviousID is set when the key was an ID merged into this one.
	Via        string     `json:"via"`
	PreviousID string     `json:"previous_id,omitempty"`
	Known      bool       `json:"known"`
	FirstSeen  *time.Time `json:"first_seen,omitempty"`
	LastSeen   *time.Time `json:"last_seen,omitempty"`
	// The rest changes only when the profile's members or IDs do, so the
	// published view (view.go) renders it once.
	profileTail
}

// profileTail is the part of a Profile after last_seen.
type profileTail struct {
	Fields  map[string]any `json:"fields"`
	Keyring []KeyringEntry `json:"keyring"`
	Records []string       `json:"records"`
	// Measures and Segments come from the last batch run.
	Measures    map[string]any `json:"measures,omitempty"`
	Segments    []string       `json:"segments"`
	PreviousIDs []string       `json:"previous_ids"`
	// InBatch is false for a profile that exists only live so far (a
	// visitor first seen since the last batch run).
	InBatch bool `json:"in_batch"`
}

// KeyringEntry is one identifier of a profile.
type KeyringEntry struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// profileOf builds a profile from the live state; the caller holds mu.
func (st *state) profileOf(key string, issue bool) (*Profile, int32, error) {
	n, via, prev, err := st.resolve(key)
	if err != nil {
		return nil, 0, err
	}
	root := st.live.Root(n)
	id, ok := st.custOf[root]
	if !ok && !issue {
		return nil, 0, errNeedsID
	}
	if !ok {
		id = st.customer(root)
	}
	p := st.profileBase(root, id)
	p.Via, p.PreviousID = via, prev
	st.actsMu.RLock()
	p.FirstSeen, p.LastSeen = st.liveTimes(root, p.FirstSeen, p.LastSeen)
	st.actsMu.RUnlock()
	return p, root, nil
}

// profileBase builds a cluster's profile from its members and the batch
// result, with the batch's first and last seen only (see liveTimes).
func (st *state) profileBase(root int32, id string) *Profile {
	p := &Profile{CustomerID: id, profileTail: profileTail{Fields: map[string]any{},
		Keyring: []KeyringEntry{}, Records: []string{}, Segments: []string{}, PreviousIDs: []string{}}}
	var batchIDs []string
	for _, m := range st.live.Members(root) {
		node := st.live.Node(m)
		if node.Record {
			p.Records = append(p.Records, node.Value)
			continue
		}
		t := st.types[node.Type]
		p.Keyring = append(p.Keyring, KeyringEntry{Type: t.name, Value: node.Value})
		p.Known = p.Known || t.known
	}
	// A live cluster may hold several batch customers merged since the
	// run: all of their IDs resolve here, and their batch facts combine.
	p.PreviousIDs = append(p.PreviousIDs, st.merged[p.CustomerID]...)
	for _, id := range append([]string{p.CustomerID}, p.PreviousIDs...) {
		if bp := st.batch[id]; bp != nil {
			batchIDs = append(batchIDs, id)
			p.InBatch = true
			p.Known = p.Known || bp.Known
			for k, v := range bp.Fields {
				if _, ok := p.Fields[k]; !ok {
					p.Fields[k] = v
				}
			}
			if p.Measures == nil && bp.Measures != nil {
				p.Measures = bp.Measures
			}
			p.Segments = append(p.Segments, bp.Segments...)
			if bp.FirstSeen != nil && (p.FirstSeen == nil || bp.FirstSeen.Before(*p.FirstSeen)) {
				p.FirstSeen = bp.FirstSeen
			}
			if bp.LastSeen != nil && (p.LastSeen == nil || bp.LastSeen.After(*p.LastSeen)) {
				p.LastSeen = bp.LastSeen
			}
		}
	}
	slices.SortFunc(p.Keyring, func(a, b KeyringEntry) int { return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Value, b.Value)) })
	slices.Sort(p.Records)
	slices.Sort(p.PreviousIDs)
	slices.Sort(p.Segments)
	p.Segments = slices.Compact(p.Segments)
	return p
}

// liveTimes combines the batch's first and last seen with the times of
// the cluster's live activities (the caller holds actsMu or the write
// lock). The pointers returned are new or the batch's own.
func (st *state) liveTimes(root int32, first, last *time.Time) (*time.Time, *time.Time) {
	var lo, hi time.Time
	haveLo, haveHi := first != nil, last != nil
	if haveLo {
		lo = *first
	}
	if haveHi {
		hi = *last
	}
	newLo, newHi := false, false
	for _, m := range st.live.Members(root) {
		list := st.acts[m].list
		for i := range list {
			t := list[i].ts.time()
			if !haveLo || t.Before(lo) {
				lo, haveLo, newLo = t, true, true
			}
			if !haveHi || t.After(hi) {
				hi, haveHi, newHi = t, true, true
			}
		}
	}
	if newLo {
		first = &lo
	}
	if newHi {
		last = &hi
	}
	return first, last
}

// errNeedsID says a lookup under the read lock found a cluster without a
// customer ID (an identifier whose link was refused): issuing one is a
// write, so the lookup is retried under the write lock.
var errNeedsID = errors.New("needs a customer ID")

// lookupProfile runs f on a profile under the read lock (lookups run in
// parallel with each other), or under the write lock when an ID must be
// issued first. GET /v1/profiles/{key} reads the published view instead
// (view.go) and comes here only for what the view does not answer.
func (s *Server) lookupProfile(key string, f func(p *Profile, root int32)) error {
	s.mu.RLock()
	p, root, err := s.st.profileOf(key, false)
	if err == nil {
		f(p, root)
	}
	s.mu.RUnlock()
	if err != errNeedsID {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, root, err = s.st.profileOf(key, true)
	if err == nil {
		f(p, root)
	}
	s.st.flush() // the ID issued
	return err
}

func (s *Server) profile(w http.ResponseWriter, r *http.Request) error {
	if ok, err := s.fastProfile(w, r.PathValue("key")); ok || err != nil {
		return err
	}
	var p *Profile
	err := s.lookupProfile(r.PathValue("key"), func(got *Profile, _ int32) { p = got })
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

// Activities is the answer of GET /v1/profiles/{key}/activities.
type Activities struct {
	CustomerID string     `json:"customer_id"`
	Activities []Activity `json:"activities"`
	// Next is the offset of the next page, 0 when there is none.
	Next int `json:"next,omitempty"`
}

// activities lists a profile's activities, newest first: the events
// collected live (kept in memory) and the batch run's activities table,
// each once.
func (s *Server) activities(w http.ResponseWriter, r *http.Request) error {
	limit, offset, err := paging(r)
	if err != nil {
		return err
	}
	var p *Profile
	var acts []Activity
	err = s.lookupProfile(r.PathValue("key"), func(got *Profile, root int32) {
		p = got
		acts = s.st.activitiesOf(root)
	})
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, a := range acts {
		seen[a.ID] = true
	}
	if p.InBatch {
		batch, err := s.batchActivities(r, append([]string{p.CustomerID}, p.PreviousIDs...), offset+limit)
		if err != nil {
			return err
		}
		for _, a := range batch {
			// A collected event is in both: its batch activity_id is
			// source/messageId.
			if !seen[a.ID] && !seen[strings.TrimPrefix(a.ID, a.Source+"/")] {
				acts = append(acts, a)
			}
		}
	}
	slices.SortStableFunc(acts, func(a, b Activity) int { return cmp.Or(b.Timestamp.Compare(a.Timestamp), cmp.Compare(a.ID, b.ID)) })
	out := Activities{CustomerID: p.CustomerID, Activities: []Activity{}}
	if offset < len(acts) {
		out.Activities = acts[offset:min(len(acts), offset+limit)]
	}
	if offset+limit < len(acts) {
		out.Next = offset + limit
	}
	return writeJSON(w, http.StatusOK, out)
}

func paging(r *http.Request) (limit, offset int, err error) {
	limit, offset = 50, 0
	for name, dst := range map[string]*int{"limit": &limit, "offset": &offset} {
		if v := r.URL.Query().Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || name == "limit" && (n == 0 || n > 1000) {
				return 0, 0, knit.Errorf(knit.EINVALID, "%s=%q: give a whole number (limit 1 to 1000, offset 0 or more)", name, v)
			}
			*dst = n
		}
	}
	return limit, offset, nil
}

// batchActivities reads the newest activities of customers from the batch
// run's activities table (indexed by the engine on customer_id where it
// can; DuckDB scans it).
func (s *Server) batchActivities(r *http.Request, ids []string, n int) ([]Activity, error) {
	if s.eng == nil {
		return nil, nil
	}
	if ok, err := s.eng.TableExists(r.Context(), "activities"); err != nil || !ok {
		return nil, err
	}
	var out []Activity
	for _, id := range ids {
		rows, err := s.eng.Query(r.Context(), engine.Rebind(s.eng.Dialect(),
			`SELECT `+insights.ActivitySelect(s.eng.Dialect(), "")+` FROM activities WHERE `+insights.CustomerKeyIs(s.eng.Dialect(), "?")+` ORDER BY ts DESC LIMIT ?`), id, n)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var a Activity
			var ts *time.Time
			var title *string
			if err := rows.Scan(&a.ID, &a.Source, &a.Type, &ts, &title); err != nil {
				rows.Close()
				return nil, err
			}
			if ts != nil {
				a.Timestamp = *ts
			}
			if title != nil {
				a.Name = *title
			}
			out = append(out, a)
		}
		rows.Close()
	}
	return out, nil
}

// Explanation is the answer of GET /v1/profiles/{key}/explain.
type Explanation struct {
	CustomerID string `json:"customer_id"`
	// Live lists the links the server made or refused since the last
	// batch run that touch this profile, newest first.
	Live []LiveLink `json:"live_links"`
	// Batch is the last batch run's explanation (knit explain).
	Batch *lookup.Explanation `json:"batch,omitempty"`
}

// LiveLink is one live stitching decision.
type LiveLink struct {
	A         string    `json:"a"`
	B         string    `json:"b,omitempty"`
	Accepted  bool      `json:"accepted"`
	Reason    string    `json:"reason,omitempty"`
	MessageID string    `json:"message_id"`
	At        time.Time `json:"at"`
}

func (s *Server) explain(w http.ResponseWriter, r *http.Request) error {
	var p *Profile
	var links []LiveLink
	batchID := ""
	err := s.lookupProfile(r.PathValue("key"), func(got *Profile, root int32) {
		p = got
		for _, id := range append([]string{p.CustomerID}, p.PreviousIDs...) {
			if s.st.batch[id] != nil {
				batchID = id
				break
			}
		}
		name := func(n int32) string {
			if n < 0 {
				return ""
			}
			node := s.st.live.Node(n)
			if node.Record {
				return node.Value
			}
			return s.st.types[node.Type].name + ":" + node.Value
		}
		for _, d := range s.st.decided {
			if s.st.live.Root(d.A) == root || d.B >= 0 && s.st.live.Root(d.B) == root {
				links = append(links, LiveLink{A: name(d.A), B: name(d.B), Accepted: d.Accepted, Reason: d.Reason, MessageID: d.Message, At: d.At})
			}
		}
	})
	if err != nil {
		return err
	}
	slices.SortStableFunc(links, func(a, b LiveLink) int { return b.At.Compare(a.At) })
	ex := Explanation{CustomerID: p.CustomerID, Live: links}
	if ex.Live == nil {
		ex.Live = []LiveLink{}
	}
	if batchID != "" && s.eng != nil {
		b, err := lookup.Explain(r.Context(), s.eng, &lookup.Resolved{Key: r.PathValue("key"), CustomerID: batchID, Via: p.Via})
		if err != nil && knit.ErrorCode(err) != knit.ENOTFOUND {
			return err
		}
		ex.Batch = b
	}
	return writeJSON(w, http.StatusOK, ex)
}
