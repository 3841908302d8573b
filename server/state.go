package server

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/collect"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/identity"
	"github.com/knit-cdp/knit/pipeline"
	"github.com/knit-cdp/knit/standardize"
)

// Bounds of what the live state keeps in memory (docs/serve.md).
const (
	activitiesPerRecord = 100   // most recent collected activities kept per visitor record
	decisionsKept       = 10000 // most recent live link decisions kept for explain
)

// state is the live identity graph with what the profile API serves: the
// last batch result (customers, fields, measures, segments) and every
// collected event applied on top. The server holds it behind a RWMutex and
// replaces it whole after a batch run.
type state struct {
	proj    *config.Project
	live    *identity.Live
	types   []identType
	typeIdx map[string]int
	paths   []identPath // serve.identifiers, in type priority order
	// pathNames are the paths' names, in the same order.
	pathNames []string
	blocked   func(raw, std string) bool
	source    string
	srcIdx    int

	custOf  map[int32]string    // cluster root → customer ID
	nodeOf  map[string]int32    // customer ID → a node of its cluster
	prevIDs map[string]string   // merged customer ID → the ID it went into
	merged  map[string][]string // customer ID → the IDs merged into it
	batch   map[string]*batchProfile
	acts    map[int32]recordActs // visitor record node → its recent activities (activities.go)
	// actsMu guards acts for holders of the read lock (applyQuick writes
	// it so; readers read it so); the write lock excludes everyone.
	actsMu  sync.RWMutex
	decided []liveDecision // ring of the latest decisions
	next    int            // ring position
	runAt   time.Time      // when the batch result was produced (zero: none)
	// waiting holds override pairs naming a record not in the live graph
	// yet, under the key of each of their records (see overrides.go).
	waiting map[string][]pipeline.Override
	// overrides are the pairs the state has applied or keeps waiting;
	// added, those added through Server.AddOverride (carried to the next
	// state).
	overrides map[overrideKey]bool
	added     []pipeline.Override
	// from is the number of logged events the state was built with:
	// apply skips events logged before it (they are already in).
	from uint64
	// pub is the lock-free index lookups read (view.go), built by
	// publishAll when the state is about to be served; from then on
	// (publishing) the clusters a change touches are republished (dirty,
	// flushed at the end of each locked step).
	pub        *published
	publishing bool
	dirty      []int32
}

type identType struct {
	name  string
	std   standardize.Func
	known bool
}

type identPath struct {
	path string
	typ  int
}

// batchProfile is what the last batch run says about a customer.
type batchProfile struct {
	Known     bool
	FirstSeen *time.Time
	LastSeen  *time.Time
	Fields    map[string]string
	Measures  map[string]any
	Segments  []string
}

// Activity is one collected event on a profile's timeline.
type Activity struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Name       string    `json:"name,omitempty"`
	Timestamp  time.Time `json:"timestamp"`
	ReceivedAt time.Time `json:"received_at,omitzero"`
	Source     string    `json:"source"`
}

// unixTime is a UTC time without a location pointer; the zero value is
// the zero time.
type unixTime struct {
	sec  int64
	nsec int32
	set  bool
}

func packTime(t time.Time) unixTime {
	if t.IsZero() {
		return unixTime{}
	}
	return unixTime{sec: t.Unix(), nsec: int32(t.Nanosecond()), set: true}
}

func (u unixTime) time() time.Time {
	if !u.set {
		return time.Time{}
	}
	return time.Unix(u.sec, int64(u.nsec)).UTC()
}

// packTimePtr packs *t, or gives the unset time for nil. Unlike packTime
// it keeps a zero time set: the locked path renders a non-nil zero time,
// and a published view must render alike.
func packTimePtr(t *time.Time) unixTime {
	if t == nil {
		return unixTime{}
	}
	return unixTime{sec: t.Unix(), nsec: int32(t.Nanosecond()), set: true}
}

// before reports whether u is earlier than o (both set).
func (u unixTime) before(o unixTime) bool {
	return u.sec < o.sec || u.sec == o.sec && u.nsec < o.nsec
}

// liveDecision is one link the live graph made or refused.
type liveDecision struct {
	A, B     int32
	Accepted bool
	Reason   string
	Message  string
	At       time.Time
}

func newState(proj *config.Project) (*state, error) {
	cfg := &proj.Config
	serve := cfg.Serve
	s := &state{
		proj: proj, typeIdx: map[string]int{}, source: serve.Source,
		custOf: map[int32]string{}, nodeOf: map[string]int32{}, prevIDs: map[string]string{}, merged: map[string][]string{},
		batch: map[string]*batchProfile{}, acts: map[int32]recordActs{},
	}
	var specs []identity.TypeSpec
	for i, name := range cfg.IdentOrder {
		it := cfg.Identifiers[name]
		std, err := standardize.For(it.Normalize, it.DefaultRegion)
		if err != nil {
			return nil, err
		}
		s.types = append(s.types, identType{name: name, std: std, known: it.Known == nil || *it.Known})
		s.typeIdx[name] = i
		specs = append(specs, identity.TypeSpec{Name: name, Limit: it.Limit, Priority: it.Priority, Strong: it.Strong != nil && *it.Strong})
	}
	s.live = identity.NewLive(specs)
	for path, typ := range serve.Identifiers {
		if i, ok := s.typeIdx[typ]; ok {
			s.paths = append(s.paths, identPath{path: path, typ: i})
		}
	}
	// Trusted types link first, as in a batch run; then by path for a
	// fixed order.
	slices.SortFunc(s.paths, func(a, b identPath) int {
		return cmp.Or(cmp.Compare(specs[a.typ].Priority, specs[b.typ].Priority), cmp.Compare(a.path, b.path))
	})
	for _, p := range s.paths {
		s.pathNames = append(s.pathNames, p.path)
	}
	s.srcIdx = slices.Index(cfg.SourceOrder, serve.Source)
	var err error
	s.blocked, err = pipeline.Blocklist(cfg.Guards)
	return s, err
}

// loadBatch reads the last batch result into the live graph: each batch
// customer becomes one cluster of its records and identifiers, joined by
// forced links (the batch run already applied the guards) and with its
// limited identifiers owned by the customer so they count once.
func (s *state) loadBatch(ctx context.Context, eng engine.Engine) error {
	ok, err := eng.TableExists(ctx, "profiles")
	if err != nil || !ok {
		return err
	}
	first := map[string]int32{}
	join := func(cust string, n int32) {
		if f, ok := first[cust]; ok {
			s.live.Union(f, n, identity.AlwaysMatch)
		} else {
			first[cust] = n
		}
	}
	owners := map[[2]string]int32{}
	err = query(ctx, eng, `SELECT type, value, customer_id FROM identifiers WHERE customer_id IS NOT NULL`, func(r *sql.Rows) error {
		var typ, value, cust string
		if err := r.Scan(&typ, &value, &cust); err != nil {
			return err
		}
		t, ok := s.typeIdx[typ]
		if !ok {
			return nil
		}
		n := s.live.Ident(t, value)
		if o, ok := owners[[2]string{cust, typ}]; ok {
			s.live.SetOwner(n, o)
		} else {
			owners[[2]string{cust, typ}] = n
		}
		join(cust, n)
		return nil
	})
	if err != nil {
		return err
	}
	err = query(ctx, eng, `SELECT record_key, source, customer_id FROM records WHERE customer_id IS NOT NULL`, func(r *sql.Rows) error {
		var key, src, cust string
		if err := r.Scan(&key, &src, &cust); err != nil {
			return err
		}
		join(cust, s.live.Record(slices.Index(s.proj.Config.SourceOrder, src), key))
		return nil
	})
	if err != nil {
		return err
	}
	err = query(ctx, eng, `SELECT customer_id, known, first_seen, last_seen FROM profiles`, func(r *sql.Rows) error {
		var cust string
		var known bool
		var firstSeen, lastSeen sql.NullTime
		if err := r.Scan(&cust, &known, &firstSeen, &lastSeen); err != nil {
			return err
		}
		bp := &batchProfile{Known: known, Fields: map[string]string{}}
		// In UTC, as live times are, whatever zone the driver used: a
		// lookup renders them alike on either path (view.go).
		if firstSeen.Valid {
			t := firstSeen.Time.UTC()
			bp.FirstSeen = &t
		}
		if lastSeen.Valid {
			t := lastSeen.Time.UTC()
			bp.LastSeen = &t
		}
		s.batch[cust] = bp
		if n, ok := first[cust]; ok {
			s.setCustomer(s.live.Find(n), cust)
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = query(ctx, eng, `SELECT customer_id, field, value FROM field_lineage`, func(r *sql.Rows) error {
		var cust, field string
		var value sql.NullString
		if err := r.Scan(&cust, &field, &value); err != nil {
			return err
		}
		if bp := s.batch[cust]; bp != nil && value.Valid {
			bp.Fields[field] = value.String
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = query(ctx, eng, `SELECT customer_id, merged_into FROM customer_ids WHERE status = 'merged'`, func(r *sql.Rows) error {
		var id string
		var into sql.NullString
		if err := r.Scan(&id, &into); err != nil {
			return err
		}
		s.prevIDs[id] = into.String
		s.merged[into.String] = append(s.merged[into.String], id)
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.loadInsights(ctx, eng); err != nil {
		return err
	}
	return s.loadGeneric(ctx, eng)
}

func (s *state) loadInsights(ctx context.Context, eng engine.Engine) error {
	if ok, _ := eng.TableExists(ctx, "segment_members"); ok {
		err := query(ctx, eng, `SELECT segment, customer_id FROM segment_members ORDER BY segment`, func(r *sql.Rows) error {
			var seg, cust string
			if err := r.Scan(&seg, &cust); err != nil {
				return err
			}
			if bp := s.batch[cust]; bp != nil {
				bp.Segments = append(bp.Segments, seg)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if ok, _ := eng.TableExists(ctx, "customer_measures"); !ok {
		return nil
	}
	rows, err := eng.Query(ctx, `SELECT * FROM customer_measures`)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		var cust string
		m := map[string]any{}
		for i, c := range cols {
			if c == "customer_id" {
				cust, _ = vals[i].(string)
			} else {
				m[c] = vals[i]
			}
		}
		if bp := s.batch[cust]; bp != nil {
			bp.Measures = m
		}
	}
	return rows.Err()
}

func (s *state) loadGeneric(ctx context.Context, eng engine.Engine) error {
	if ok, _ := eng.TableExists(ctx, "generic_values"); !ok {
		return nil
	}
	return query(ctx, eng, `SELECT type, value, seen_with, distinct_values FROM generic_values`, func(r *sql.Rows) error {
		var typ, value, with string
		var n int64
		if err := r.Scan(&typ, &value, &with, &n); err != nil {
			return err
		}
		if t, ok := s.typeIdx[typ]; ok {
			s.live.MarkGeneric(s.live.Ident(t, value), "generic value: "+typ+":"+value+" was seen with "+itoa(n)+" distinct "+with+" values in the last batch run")
		}
		return nil
	})
}

func query(ctx context.Context, eng engine.Engine, q string, each func(*sql.Rows) error) error {
	rows, err := eng.Query(ctx, q)
	if err != nil {
		return knit.Wrap(knit.EINTERNAL, err, "loading the last batch result")
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (s *state) setCustomer(root int32, id string) {
	s.custOf[root] = id
	s.nodeOf[id] = root
	if s.publishing {
		s.syncRefs()
		s.pub.customers.store(id, root)
		s.touch(root)
	}
}

// customer returns the customer ID of a node's cluster, issuing one for a
// cluster that has none: a UUIDv5 of its first member, the same derivation
// as a batch run's new IDs, so the next run usually keeps it.
func (s *state) customer(n int32) string {
	root := s.live.Find(n)
	if id, ok := s.custOf[root]; ok {
		return id
	}
	first := s.live.Members(root)[0]
	node := s.live.Node(first)
	name := node.Value
	if !node.Record {
		name = s.types[node.Type].name + ":" + node.Value
	}
	id := uuid.NewSHA1(identity.Namespace, []byte(name)).String()
	for i := 1; ; i++ {
		nd, taken := s.nodeOf[id]
		if (!taken || s.live.Find(nd) == root) && s.prevIDs[id] == "" {
			break
		}
		id = uuid.NewSHA1(identity.Namespace, []byte(name+"#"+itoa(int64(i)))).String()
	}
	s.setCustomer(root, id)
	return id
}

// prepared is an event made ready for the live graph: everything that
// depends only on the event and the configuration (identifier values read
// and standardised, junk checked, the activity built) is done before the
// server takes its lock, so the locked step only touches the graph.
type prepared struct {
	seq      uint64 // the event's position in the event log
	message  string
	at       time.Time
	visitor  string // the visitor record's key
	idents   []preparedIdent
	previous string // alias: the previous ID's record key
	act      newActivity
	values   []string // scratch: the identifier paths' raw values
}

type preparedIdent struct {
	typ     int
	value   string // standardised
	blocked bool
}

// prepare reads one event for apply. It reads only the configuration, so
// it runs outside the lock.
func (s *state) prepare(ev *collect.Event, seq uint64) *prepared {
	p := &prepared{}
	s.prepareInto(p, ev, seq)
	return p
}

// prepareInto is prepare into p, reusing its slices: stitching a batch
// prepares and applies one event at a time, and apply keeps nothing of p
// (the activity's bytes are copied), so one prepared serves the batch.
func (s *state) prepareInto(p *prepared, ev *collect.Event, seq uint64) {
	visitor := ev.AnonymousID
	if visitor == "" {
		visitor = ev.UserID
	}
	*p = prepared{seq: seq, message: ev.MessageID, at: ev.ReceivedAt, visitor: s.source + "/" + visitor,
		idents: p.idents[:0], values: p.values[:0]}
	p.values = ev.Values(s.pathNames, p.values)
	for i, ip := range s.paths {
		raw := p.values[i]
		if raw == "" {
			continue
		}
		std, ok := s.types[ip.typ].std(raw)
		p.idents = append(p.idents, preparedIdent{typ: ip.typ, value: std, blocked: !ok || s.blocked(raw, std)})
	}
	if ev.Type == "alias" && ev.PreviousID != "" && ev.PreviousID != visitor {
		p.previous = s.source + "/" + ev.PreviousID
	}
	name := ev.Event
	if name == "" {
		name = ev.Name
	}
	// Parse accepts only collect.Types, so the index is always found.
	p.act = newActivity{id: ev.MessageID, typ: uint8(max(0, slices.Index(collect.Types, ev.Type))), name: name,
		ts: packTime(ev.Timestamp), received: packTime(ev.ReceivedAt)}
}

// applyEvent prepares and applies one event (replays, which hold the
// state alone).
func (s *state) applyEvent(ev *collect.Event, seq uint64) { s.apply(s.prepare(ev, seq)) }

// apply stitches one prepared event into the live graph and records its
// activity. It returns the number of links made and refused. An event the
// state already holds (logged before the state was built: see from) is
// skipped, so a batch swap never applies one twice.
func (s *state) apply(p *prepared) (made, refused int) {
	if p.seq < s.from {
		return 0, 0
	}
	rec := s.record(s.srcIdx, p.visitor)
	s.customer(rec)
	link := func(a, b int32) {
		switch s.join(a, b, identity.CoOccurrence, p.message, p.at) {
		case joined:
			made++
		case refusedJoin:
			refused++
		}
	}
	for _, id := range p.idents {
		if id.blocked {
			s.remember(liveDecision{A: rec, B: -1, Reason: "blocked or invalid " + s.types[id.typ].name + " value", Message: p.message, At: p.at})
			refused++
			continue
		}
		link(rec, s.live.Ident(id.typ, id.value))
	}
	if p.previous != "" {
		link(rec, s.record(s.srcIdx, p.previous))
	}
	s.appendActivity(rec, p.act)
	s.touch(rec)
	s.flush()
	return made, refused
}

// applyQuick handles, under the read lock only, an event that changes
// nothing in the graph: its visitor is known and has a customer ID, and
// each of its identifiers is already in the visitor's profile (a repeat
// visit, the common case). It appends the activity under actsMu and
// reports true; anything else is left to apply under the write lock. So
// lookups and repeat events do not exclude each other.
func (s *state) applyQuick(p *prepared) bool {
	if p.seq < s.from {
		return true // the state holds it already
	}
	if p.previous != "" || len(s.waiting) > 0 {
		return false
	}
	rec, ok := s.live.LookupRecord(p.visitor)
	if !ok {
		return false
	}
	root := s.live.Root(rec)
	if _, ok := s.custOf[root]; !ok {
		return false
	}
	for _, id := range p.idents {
		if id.blocked { // a refusal is recorded: the write path
			return false
		}
		if n, ok := s.live.LookupIdent(id.typ, id.value); !ok || s.live.Root(n) != root {
			return false
		}
	}
	// Published under actsMu: two repeat visits to one profile publish
	// one after the other, the later with both activities.
	s.actsMu.Lock()
	trimmed := s.appendActivity(rec, p.act)
	s.publishTimes(root, p.act.ts, trimmed)
	s.actsMu.Unlock()
	return true
}

type joinResult int

const (
	together    joinResult = iota // already one cluster
	joined                        // the link merged two clusters
	refusedJoin                   // a guard refused the link
)

// join links two nodes with evidence of a kind, records the decision, and
// carries customer IDs across a merge.
func (s *state) join(a, b int32, kind identity.Kind, message string, at time.Time) joinResult {
	ida, idb := s.custOf[s.live.Find(a)], s.custOf[s.live.Find(b)]
	reason, ra, rb := s.live.Union(a, b, kind)
	if ra == rb {
		return together
	}
	s.remember(liveDecision{A: a, B: b, Accepted: reason == "", Reason: reason, Message: message, At: at})
	if reason != "" {
		return refusedJoin
	}
	s.touch(a)
	root := s.live.Find(a)
	// The merged cluster keeps one ID: a batch customer's over a live
	// one, else the ID of the larger side; the other resolves to it.
	keep, gone := ida, idb
	if keep == "" || gone != "" && s.batch[keep] == nil && s.batch[gone] != nil {
		keep, gone = idb, ida
	}
	delete(s.custOf, ra)
	delete(s.custOf, rb)
	if keep != "" {
		s.setCustomer(root, keep)
	}
	if gone != "" && gone != keep {
		s.prevIDs[gone] = keep
		s.merged[keep] = append(append(s.merged[keep], gone), s.merged[gone]...)
		delete(s.merged, gone)
		delete(s.nodeOf, gone)
	}
	return joined
}

func (s *state) remember(d liveDecision) {
	if len(s.decided) < decisionsKept {
		s.decided = append(s.decided, d)
		return
	}
	s.decided[s.next] = d
	s.next = (s.next + 1) % decisionsKept
}

// resolve finds the node of a key: type:value, source/pk or a customer ID
// (current or previous). via says how.
func (s *state) resolve(key string) (n int32, via, previous string, err error) {
	k, err := knit.ParseKey(key)
	if err != nil {
		return 0, "", "", err
	}
	switch {
	case k.Identifier != nil:
		t, ok := s.typeIdx[k.Identifier.Type]
		if !ok {
			return 0, "", "", knit.Errorf(knit.EINVALID, "unknown identifier type %q; the project has: %s", k.Identifier.Type, strings.Join(s.proj.Config.IdentOrder, ", "))
		}
		v, ok := s.types[t].std(k.Identifier.Value)
		if !ok {
			return 0, "", "", knit.Errorf(knit.EINVALID, "%q is not a valid %s value", k.Identifier.Value, k.Identifier.Type)
		}
		n, ok := s.live.LookupIdent(t, v)
		if !ok {
			return 0, "", "", knit.Errorf(knit.ENOTFOUND, "no profile holds %s:%s", k.Identifier.Type, v)
		}
		return n, "identifier", "", nil
	case k.Record != nil:
		n, ok := s.live.LookupRecord(k.Record.String())
		if !ok {
			return 0, "", "", knit.Errorf(knit.ENOTFOUND, "no record %s", k.Record)
		}
		return n, "record", "", nil
	}
	n, ok := s.customerNode(k.CustomerID)
	if !ok {
		return 0, "", "", knit.Errorf(knit.ENOTFOUND, "no customer %s", k.CustomerID)
	}
	if _, current := s.nodeOf[k.CustomerID]; !current {
		previous = k.CustomerID
	}
	return n, "customer_id", previous, nil
}

// customerNode finds the node of a customer ID, following the chain of
// merges from a previous ID to the current one.
func (s *state) customerNode(id string) (int32, bool) {
	for hops := 0; hops < 64; hops++ {
		if n, ok := s.nodeOf[id]; ok {
			return n, true
		}
		next, ok := s.prevIDs[id]
		if !ok || next == "" {
			break
		}
		id = next
	}
	return 0, false
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
