package server

import (
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/knit-cdp/knit"
)

// Profile lookups read the live state without taking any lock that an
// ingesting writer holds. Writers (under the server's write lock, or its
// read lock plus actsMu for a repeat visit) build an immutable view of a
// profile and publish it through an atomic pointer; a lookup finds the
// key's node in a concurrent index, loads the view and renders it. A
// writer descheduled in the middle of an event therefore delays no lookup:
// the lookup sees the profile as it was before that event, or after.
//
// The index has three levels so that one event publishes in O(1) and a
// merge in O(cluster): key → node's ref (one per node, fixed; keyindex.go
// maps keys to node numbers without a pointer per key) → cell (one per
// cluster; a merge repoints the absorbed side's nodes to the kept cell)
// → view (replaced whole on every change).
//
// Anything the index does not answer (an unknown key, a cluster without a
// customer ID yet, a key given in an unusual form) goes to the locked path
// (lookupProfile), which gives the same answers and errors as before.

// published is a state's lock-free lookup index.
type published struct {
	idents    []keyIndex // per identifier type: standardised value → node
	records   keyIndex   // record key (source/pk) → node
	customers keyIndex   // customer ID, current or previous → node
	// Node refs (by node number) and cells come from blocks, so the index
	// is a few thousand objects for the garbage collector to mark rather
	// than two per node (a cell left behind by a merge stays in its block).
	refs       blocks[nodeRef]
	cellBlocks blocks[cell]
}

type nodeRef struct{ c atomic.Pointer[cell] }

type cell struct{ v atomic.Pointer[view] }

// view is one profile as published: everything but the lookup's own
// via/previous_id, with the JSON of the parts that change only on a merge
// rendered once. Its times are held by value: a pointer each would be two
// more objects per published change.
type view struct {
	st          *viewStatic
	first, last unixTime // batch and live activity times combined
}

type viewStatic struct {
	id string
	// doc is the head, {"customer_id":"…", up to split, then the tail,
	// "fields":…,"in_batch":…}\n: one allocation for the two.
	doc        []byte
	split      int
	known      bool
	batchFirst *time.Time
	batchLast  *time.Time
}

// syncRefs gives every node added since the last call its ref and index
// entry, alone in a cell of its own (flush regroups clusters).
func (s *state) syncRefs() {
	pub := s.pub
	for i := pub.refs.n; i < int32(s.live.Len()); i++ {
		pub.refs.alloc().c.Store(pub.cellBlocks.alloc())
		node := s.live.Node(i)
		if node.Record {
			pub.records.store(node.Value, i)
		} else {
			pub.idents[node.Type].store(node.Value, i)
		}
	}
}

// publishAll builds the whole index of a state about to be served; from
// then on every change publishes itself (see touch and flush).
func (s *state) publishAll() {
	s.pub = &published{idents: make([]keyIndex, len(s.types))}
	s.syncRefs()
	for i := range int32(s.live.Len()) {
		if r := s.live.Find(i); r != i {
			s.pub.refs.at(i).c.Store(s.pub.refs.at(r).c.Load())
		}
	}
	for id := range s.prevIDs {
		s.indexCustomer(id)
	}
	for id, n := range s.nodeOf {
		s.pub.customers.store(id, n)
	}
	for root := range s.custOf {
		s.publishFull(root)
	}
	s.publishing = true
}

// indexCustomer indexes a previous customer ID at the node its chain of
// merges leads to, as resolve follows it.
func (s *state) indexCustomer(id string) {
	if s.pub == nil {
		return
	}
	if n, ok := s.customerNode(id); ok {
		s.syncRefs()
		s.pub.customers.store(id, n)
	}
}

// touch marks a node's cluster for publishing at the next flush.
func (s *state) touch(n int32) {
	if s.publishing {
		s.dirty = append(s.dirty, n)
	}
}

// flush publishes the clusters touched since the last flush; the caller
// holds the write lock. Nodes of a cluster absorbed by a merge are
// repointed to the kept cell, and their old cell gets the merged view too,
// so a lookup that loaded the old cell still sees the merge.
func (s *state) flush() {
	if !s.publishing || len(s.dirty) == 0 {
		return
	}
	s.syncRefs()
	for i, n := range s.dirty {
		root := s.live.Find(n)
		if i > 0 && root == s.live.Find(s.dirty[i-1]) {
			continue
		}
		v := s.publishFull(root)
		kept := s.pub.refs.at(root).c.Load()
		for _, m := range s.live.Members(root) {
			if ref := s.pub.refs.at(m); ref.c.Load() != kept {
				ref.c.Load().v.Store(v)
				ref.c.Store(kept)
			}
		}
	}
	s.dirty = s.dirty[:0]
}

// publishFull builds and publishes a cluster's view (nil for a cluster
// without a customer ID: lookups then take the locked path, which issues
// one). The caller holds the write lock.
func (s *state) publishFull(root int32) *view {
	var v *view
	if id, ok := s.custOf[root]; ok {
		v = s.buildView(root, id)
	}
	s.pub.refs.at(root).c.Load().v.Store(v)
	return v
}

func (s *state) buildView(root int32, id string) *view {
	p := s.profileBase(root, id)
	head, err := json.Marshal(id)
	if err != nil {
		return nil
	}
	tail, err := json.Marshal(p.profileTail)
	if err != nil {
		return nil // the locked path reports the same error
	}
	const open = `{"customer_id":`
	doc := make([]byte, 0, len(open)+len(head)+len(tail))
	doc = append(append(append(doc, open...), head...), tail[1:]...)
	st := &viewStatic{id: id, doc: append(doc, '\n'), split: len(open) + len(head), known: p.Known,
		batchFirst: p.FirstSeen, batchLast: p.LastSeen}
	first, last := s.liveTimes(root, st.batchFirst, st.batchLast)
	return &view{st: st, first: packTimePtr(first), last: packTimePtr(last)}
}

// publishTimes republishes a cluster's view with its activity times
// brought up to date after an activity at ts was appended: a repeat visit
// changes nothing else. The new time widens the range; only when older
// activities were dropped (trimmed) are the cluster's times read again.
// The caller holds the read lock and actsMu.
func (s *state) publishTimes(root int32, ts unixTime, trimmed bool) {
	if !s.publishing {
		return
	}
	c := s.pub.refs.at(root).c.Load()
	old := c.v.Load()
	if old == nil {
		return
	}
	var first, last unixTime
	if trimmed {
		f, l := s.liveTimes(root, old.st.batchFirst, old.st.batchLast)
		first, last = packTimePtr(f), packTimePtr(l)
	} else {
		// As liveTimes: strictly earlier or later replaces, so a batch
		// time equal to the new one is kept.
		first, last = old.first, old.last
		if !first.set || ts.before(first) {
			first = ts
		}
		if !last.set || last.before(ts) {
			last = ts
		}
	}
	if first == old.first && last == old.last {
		return
	}
	c.v.Store(&view{st: old.st, first: first, last: last})
}

// fastProfile answers a lookup from the published index; ok is false when
// the index cannot, and the caller takes the locked path.
func (s *Server) fastProfile(w http.ResponseWriter, key string) (ok bool, err error) {
	bp := renderPool.Get().(*[]byte)
	defer renderPool.Put(bp)
	b, ok := s.publishedProfile((*bp)[:0], key)
	*bp = b
	if ok {
		w.Header()["Content-Type"] = jsonContentType
		w.WriteHeader(http.StatusOK)
		_, err = w.Write(b)
	}
	return ok, err
}

// publishedProfile appends a lookup's answer, rendered from the published
// index, to b; ok is false when the index cannot answer.
func (s *Server) publishedProfile(b []byte, key string) (_ []byte, ok bool) {
	st := s.cur.Load()
	if st == nil || st.pub == nil {
		return b, false
	}
	ref, via, byID := st.findRef(key)
	if ref == nil {
		return b, false
	}
	v := ref.c.Load().v.Load()
	if v == nil {
		return b, false
	}
	prev := ""
	if byID != "" && byID != v.st.id {
		prev = byID
	}
	return v.render(b, via, prev)
}

// jsonContentType is shared by every answer: net/http only reads it.
var jsonContentType = []string{"application/json"}

var renderPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// findRef finds a key's node in the index: via says how, byID is the
// customer ID given when the key was one.
func (st *state) findRef(key string) (ref *nodeRef, via, byID string) {
	k, err := knit.ParseKey(key)
	if err != nil {
		return nil, "", ""
	}
	var n int32
	var ok bool
	switch {
	case k.Identifier != nil:
		t, known := st.typeIdx[k.Identifier.Type]
		if !known {
			return nil, "", ""
		}
		v, valid := st.types[t].std(k.Identifier.Value)
		if !valid {
			return nil, "", ""
		}
		n, ok = st.pub.idents[t].load(v)
		via = "identifier"
	case k.Record != nil:
		n, ok = st.pub.records.load(k.Record.String())
		via = "record"
	default:
		n, ok = st.pub.customers.load(k.CustomerID)
		via, byID = "customer_id", k.CustomerID
	}
	if !ok {
		return nil, "", ""
	}
	return st.pub.refs.at(n), via, byID
}

// render appends the profile's JSON, byte for byte what writeJSON gives
// for the Profile the locked path builds.
func (v *view) render(b []byte, via, prev string) ([]byte, bool) {
	b = append(b, v.st.doc[:v.st.split]...)
	b = append(b, `,"via":"`...)
	b = append(b, via...) // one of three fixed words
	b = append(b, '"')
	if prev != "" {
		q, err := json.Marshal(prev)
		if err != nil {
			return b, false
		}
		b = append(b, `,"previous_id":`...)
		b = append(b, q...)
	}
	if v.st.known {
		b = append(b, `,"known":true`...)
	} else {
		b = append(b, `,"known":false`...)
	}
	var err error
	for _, t := range [2]struct {
		name string
		at   unixTime
	}{{`,"first_seen":"`, v.first}, {`,"last_seen":"`, v.last}} {
		if !t.at.set {
			continue
		}
		b = append(b, t.name...)
		if b, err = t.at.time().AppendText(b); err != nil {
			return b, false // a year outside 0–9999: the locked path reports it
		}
		b = append(b, '"')
	}
	b = append(b, ',')
	return append(b, v.st.doc[v.st.split:]...), true
}
