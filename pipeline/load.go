package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/identity"
	"github.com/knit-cdp/knit/source"
	"github.com/knit-cdp/knit/standardize"
)

// record is one record of the identity graph: a row of a profile source
// (duplicates of its primary key collapsed into it) or a distinct visitor
// of an event source.
type record struct {
	node    int32
	source  int // index into run.sources (precedence order)
	pk      string
	file    string
	line    int64
	updated stamp    // profile: updated_at; events: last event
	first   stamp    // events: first event
	rows    int32    // rows collapsed into this record
	attrs   []string // raw values per unified field (run.fields order); "" = null
	filled  int      // non-null attributes and identifiers
	idents  []recIdent
	// dedupe outcome within the source
	group  int32 // dedupe group (record index of the group's winner), -1 if alone
	winner bool
	// display form of the row for deterministic tie-breaks
	content string
}

type recIdent struct {
	typ   int
	node  int32  // the identifier's graph node, set when the record enters the graph
	value string // standardised
	raw   string
}

// sourceRun is a source with what the run learnt while reading it.
type sourceRun struct {
	cfg        *config.Source
	rank       int
	includeAll bool
	table      string // raw rows table
	columns    []string
	rep        *SourceReport
}

type rejectedRow struct {
	source string
	err    *source.RowError
}

type blockedIdent struct {
	record string
	typ    int
	raw    string
	reason string
}

// evidence is why two nodes are linked: the values or event that matched.
type evidence struct {
	text  string
	time  int64
	count int32
}

// identTypes compiles the identifier types of the config.
type identType struct {
	name     string
	std      standardize.Func
	known    bool
	limit    int
	priority int
	strong   bool
}

type blocklist struct {
	defaults bool
	values   map[string]bool
	longest  int // bytes of the longest of values
	patterns []*regexp.Regexp
}

// defaultBlocked are values that mean "no value" in real data. They are
// compared after standardisation, case-insensitively.
var defaultBlocked = []string{
	"null", "nil", "none", "undefined", "unknown", "anonymous", "n/a", "na", "n.a.", "-", "--", "---",
	"0", "00", "000", "0000000000", "1234567890", "+10000000000", "+11111111111", "+1234567890",
	"test", "test@test.com", "test@example.com", "noemail@noemail.com", "none@none.com", "no@email.com",
	"email@email.com", "a@a.com", "x@x.com", "na@na.com", "unknown@unknown.com", "guest", "guest@guest.com",
}

// Families of junk beyond the list are checked in code, not regular
// expressions: every identifier of every row passes through here. Values
// made only of punctuation are nulls (isNullLike); placeholder domains and
// one repeated digit (5555555555) are junk.
var placeholderDomains = []string{"@test.com", "@test.org", "@test.net", "@invalid.com", "@invalid.org", "@invalid.net"}

func newBlocklist(g config.Guards) (*blocklist, error) {
	b := &blocklist{values: map[string]bool{}, defaults: !g.NoDefaults}
	if !g.NoDefaults {
		for _, v := range defaultBlocked {
			b.values[v] = true
		}
	}
	for _, v := range g.BlockedValues {
		b.values[strings.ToLower(strings.TrimSpace(v))] = true
	}
	b.longest = longestKey(b.values)
	for _, p := range g.BlockedPatterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, knit.Errorf(knit.EINVALID, "guards.blocked_patterns: %q is not a valid regular expression: %v", p, err)
		}
		b.patterns = append(b.patterns, re)
	}
	return b, nil
}

// blocked reports whether a raw or standardised value is junk.
func (b *blocklist) blocked(raw, std string) bool {
	if lowerIn(b.values, b.longest, strings.TrimSpace(raw)) || b.values[std] {
		return true
	}
	if b.defaults && (oneRepeatedDigit(std) || placeholderEmail(std)) {
		return true
	}
	for _, re := range b.patterns {
		if re.MatchString(std) {
			return true
		}
	}
	return false
}

func placeholderEmail(s string) bool {
	for _, d := range placeholderDomains {
		if strings.HasSuffix(s, d) {
			return true
		}
	}
	return false
}

// oneRepeatedDigit reports values such as 0000000000 or +15555555555's
// national part: five or more of one digit, optionally after a plus (and
// the North American country code).
func oneRepeatedDigit(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if len(s) == 11 && s[0] == '1' { // North American E.164: +1 then ten digits
		s = s[1:]
	}
	if len(s) < 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' || s[i] != s[0] {
			return false
		}
	}
	return true
}

// loadSource reads one source into its raw table (staged) and into the
// identity graph. Rows that cannot be read or typed are rejected with their
// line, column and reason; reading goes on. It returns once the rows are
// read: the source's appender finishes (the bulk returned) and the graph
// takes its last rows while the next source is read.
func (r *run) loadSource(ctx context.Context, s *sourceRun, graph *graphFeed) (*bulk, error) {
	rd, err := r.openSource(ctx, s)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	cols := rd.Columns()
	s.columns = cols
	typer, err := source.NewTyper(s.cfg, cols)
	if err != nil {
		return nil, err
	}
	types := typer.Types()
	tableCols := []engine.Column{{Name: "_file", Type: engine.Text}, {Name: "_line", Type: engine.BigInt}}
	for i, c := range cols {
		tableCols = append(tableCols, engine.Column{Name: c, Type: types[i]})
	}
	staged := engine.StagedName(s.table)
	if err := r.eng.CreateTable(ctx, staged, tableCols); err != nil {
		return nil, err
	}
	idx := func(col string) int { return slices.Index(cols, col) }
	pkCol := idx(s.cfg.PrimaryKey)
	tsCol, updCol := -1, -1
	if s.cfg.Timestamp != nil {
		tsCol = idx(s.cfg.Timestamp.Column)
	}
	if s.cfg.UpdatedAt != nil {
		updCol = idx(s.cfg.UpdatedAt.Column)
	}
	sg := &sourceGraph{s: s, events: s.cfg.Kind == "events", visitorCol: -1,
		identTypes: make([]int, len(s.cfg.IdentCols)), attrFields: make([]int, len(s.cfg.AttrCols))}
	identCols := make([]int, len(s.cfg.IdentCols))
	for i, c := range s.cfg.IdentCols {
		identCols[i] = idx(c)
		sg.identTypes[i] = r.identIndex[s.cfg.Identifiers[c]]
	}
	attrCols := make([]int, len(s.cfg.AttrCols))
	for i, c := range s.cfg.AttrCols {
		attrCols[i] = idx(c)
		sg.attrFields[i] = r.fieldIndex[s.cfg.Attributes[c]]
	}
	if sg.events {
		sg.visitorCol = slices.Index(s.cfg.IdentCols, s.cfg.VisitorKey)
		sg.memo = newEventMemo(len(identCols))
	} else {
		sg.pending = &pendingRows{}
		tsCol = updCol
	}
	// Three goroutines share the work: this one reads, types and
	// standardises the rows (readRows); the engine appends the raw rows on
	// its own (bulk); the graph is built from the parsed rows on a third,
	// in source and row order, so node numbers never depend on scheduling.
	bulk := startBulk(ctx, r.eng, staged, tableCols)
	rp := rowParser{r: r, s: s, typer: typer, cols: tableCols, pkCol: pkCol, tsCol: tsCol,
		identCols: identCols, identTypes: sg.identTypes, attrCols: attrCols, events: sg.events}
	err = rp.readRows(rd, bulk, func(rows []parsedRow) { graph.work <- graphWork{src: sg, rows: rows} })
	graph.work <- graphWork{src: sg, end: true}
	if err != nil {
		return bulk, err
	}
	if budget := s.cfg.RejectBudget(s.rep.RowsRead); budget >= 0 && s.rep.RowsRejected > budget {
		return bulk, knit.Errorf(knit.EBUDGET, "source %s: %d rows rejected, more than the error budget max_rejected: %s allows (%d); the first: %s",
			s.cfg.Name, s.rep.RowsRejected, s.cfg.MaxRejected, budget, r.firstReject(s.cfg.Name))
	}
	return bulk, nil
}

// sourceGraph is what the graph goroutine needs of one source.
type sourceGraph struct {
	s                      *sourceRun
	events                 bool
	identTypes, attrFields []int
	visitorCol             int
	pending                *pendingRows // profile rows, before they enter the graph
	memo                   *eventMemo
}

// graphWork is a batch of a source's parsed rows, or the mark that the
// source has no more (end).
type graphWork struct {
	src  *sourceGraph
	rows []parsedRow
	end  bool
}

// graphFeed builds the identity graph on a goroutine of its own from the
// parsed rows of every source, in the order they are sent.
type graphFeed struct {
	work chan graphWork
	done chan struct{}
}

func (r *run) startGraph() *graphFeed {
	g := &graphFeed{work: make(chan graphWork, 8), done: make(chan struct{})}
	go func() {
		defer close(g.done)
		for w := range g.work {
			sg := w.src
			if w.end {
				if !sg.events {
					r.commitProfiles(sg.s, sg.pending)
				}
				continue
			}
			for i := range w.rows {
				if sg.events {
					r.addEvent(sg.s, sg.memo, &w.rows[i], sg.identTypes, sg.visitorCol)
				} else {
					r.addProfileRow(sg.s, sg.pending, &w.rows[i], sg.identTypes, sg.attrFields)
				}
			}
		}
	}()
	return g
}

// wait lets the graph take what was sent and returns when it has.
func (g *graphFeed) wait() {
	close(g.work)
	<-g.done
}

const csvSep = ','

// parsedRow is one source row as the reading goroutine hands it to the
// graph: typed, its identifiers standardised, nothing shared yet.
type parsedRow struct {
	file    string
	line    int64
	pk      string
	ts      time.Time     // events: the timestamp; profiles: updated_at
	idents  []parsedIdent // one per identifier column, in column order
	attrs   []string      // profiles: trimmed raw values per attribute column
	content string        // profiles: the whole row, for tie-breaks
}

// parsedIdent is one identifier value of a row. ok is false for nulls and
// for invalid or blocked values (reason says which; nulls have none).
type parsedIdent struct {
	raw, std, reason string
	ok               bool
}

// Parsed rows go from the reading goroutine to the graph this many at a time.
const parsedBatch = 512

// rowParser reads one source: rows are counted, rejected with their
// reason, typed, appended raw to the engine and parsed for the graph.
type rowParser struct {
	r                     *run
	s                     *sourceRun
	typer                 *source.Typer
	cols                  []engine.Column
	pkCol, tsCol          int
	identCols, identTypes []int
	attrCols              []int
	events                bool
}

func (p *rowParser) readRows(rd source.Rows, bulk *bulk, out func([]parsedRow)) error {
	s := p.s
	var slab []any
	var vals source.Values // the typed values the raw rows point at
	var fileName string
	var file any
	var idents []parsedIdent
	var attrs []string
	batch := make([]parsedRow, 0, parsedBatch)
	lastRaw := make([]string, len(p.identCols))
	last := make([]parsedIdent, len(p.identCols))
	lastOK := make([]bool, len(p.identCols))
	for {
		row, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// Declared here, not per row: errors.As moves it to the heap.
			var rowErr *source.RowError
			if errors.As(err, &rowErr) {
				s.rep.RowsRead++
				p.r.reject(s, rowErr)
				continue
			}
			return err
		}
		s.rep.RowsRead++
		// Rows are cut from a slab a batch long: one allocation per batch
		// instead of one per row (the batch owns its rows until appended).
		// A rejected row's slot is taken by the next row.
		n := len(p.cols)
		if len(slab) < n {
			slab = make([]any, bulkBatch*n)
		}
		raw := slab[:n:n]
		typed := raw[2:]
		if err := p.typer.ConvertTo(row, typed, &vals); err != nil {
			var rowErr *source.RowError
			if errors.As(err, &rowErr) {
				p.r.reject(s, rowErr)
				continue
			}
			return err
		}
		pk := strings.TrimSpace(row.Values[p.pkCol])
		if pk == "" {
			p.r.reject(s, &source.RowError{File: row.File, Line: row.Line, Column: s.cfg.PrimaryKey,
				Reason: "the primary key is empty", Raw: strings.Join(row.Values, string(csvSep))})
			continue
		}
		slab = slab[n:]
		if row.File != fileName || file == nil {
			fileName, file = row.File, row.File // boxed once per file, not per row
		}
		raw[0], raw[1] = file, vals.Int(row.Line)
		if err := bulk.add(raw); err != nil {
			return err
		}
		s.rep.RowsLoaded++

		if len(idents) < len(p.identCols) {
			idents = make([]parsedIdent, parsedBatch*len(p.identCols))
		}
		// The row is filled where it lies in the batch: a parsedRow is a
		// dozen words, copied once more by an append.
		batch = batch[:len(batch)+1]
		pr := &batch[len(batch)-1]
		pr.file, pr.line, pr.pk, pr.idents = row.File, row.Line, pk, idents[:len(p.identCols):len(p.identCols)]
		idents = idents[len(p.identCols):]
		if p.tsCol >= 0 {
			if ts, ok := typed[p.tsCol].(*time.Time); ok {
				pr.ts = *ts
			}
		}
		for i, c := range p.identCols {
			// An event source repeats a visitor's values row after row:
			// the last raw value of each column is standardised once.
			if v := row.Values[c]; lastOK[i] && v == lastRaw[i] {
				pr.idents[i] = last[i]
			} else {
				pr.idents[i] = p.r.parseIdent(p.identTypes[i], v)
				lastRaw[i], last[i], lastOK[i] = v, pr.idents[i], true
			}
		}
		if !p.events {
			if len(p.attrCols) > 0 {
				if len(attrs) < len(p.attrCols) {
					attrs = make([]string, parsedBatch*len(p.attrCols))
				}
				pr.attrs = attrs[:len(p.attrCols):len(p.attrCols)]
				attrs = attrs[len(p.attrCols):]
				for i, c := range p.attrCols {
					pr.attrs[i] = strings.TrimSpace(row.Values[c])
				}
			}
			pr.content = strings.Join(row.Values, "\x1f")
		}
		if len(batch) == parsedBatch {
			out(batch)
			batch = make([]parsedRow, 0, parsedBatch)
		}
	}
	if len(batch) > 0 {
		out(batch)
	}
	return nil
}

func (r *run) reject(s *sourceRun, e *source.RowError) {
	s.rep.RowsRejected++
	r.rejected = append(r.rejected, rejectedRow{source: s.cfg.Name, err: e})
}

func (r *run) firstReject(src string) string {
	for _, rj := range r.rejected {
		if rj.source == src {
			return rj.err.Error()
		}
	}
	return ""
}

// nullTokens are what exports write for "no value". They are nulls, not
// junk: nothing is refused or reported for them.
var nullTokens = map[string]bool{
	"null": true, "nil": true, "none": true, "undefined": true, "n/a": true, "na": true, "#n/a": true, "nan": true,
}

// lowerIn reports whether strings.ToLower(s) is a key of m, whose keys are
// at most longest bytes long. An ASCII s keeps its length when lowered, so
// a longer one is not looked up: lowering allocates for every mixed-case
// value (most e-mail addresses), and every identifier of every row comes
// here twice.
func lowerIn(m map[string]bool, longest int, s string) bool {
	if len(s) > longest && isASCII(s) {
		return false
	}
	return m[strings.ToLower(s)]
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

var nullTokensLongest = longestKey(nullTokens)

func longestKey(m map[string]bool) int {
	n := 0
	for k := range m {
		n = max(n, len(k))
	}
	return n
}

// isNullLike reports empty values, null tokens and values made only of
// punctuation ("--", "-", "?").
func isNullLike(raw string) bool {
	if raw == "" || lowerIn(nullTokens, nullTokensLongest, raw) {
		return true
	}
	for _, c := range raw {
		if unicode.IsLetter(c) || unicode.IsDigit(c) {
			return false
		}
	}
	return true
}

// parseIdent standardises a raw identifier value. It only reads the run's
// settings, so the reading goroutine calls it while the graph is built.
func (r *run) parseIdent(typ int, raw string) parsedIdent {
	raw = strings.TrimSpace(raw)
	if isNullLike(raw) {
		return parsedIdent{raw: raw}
	}
	std, ok := r.types[typ].std(raw)
	switch {
	case !ok:
		return parsedIdent{raw: raw, reason: "not a valid " + r.types[typ].name}
	case r.block.blocked(raw, std):
		return parsedIdent{raw: raw, reason: "blocked value"}
	}
	return parsedIdent{raw: raw, std: std, ok: true}
}

// useIdent reports whether a parsed identifier can be used. Invalid and
// blocked ones are remembered: per record for profile sources (so explain
// shows them), counted per value for event sources (where the same junk
// may repeat millions of times).
func (r *run) useIdent(s *sourceRun, typ int, id *parsedIdent, recKey func() string) bool {
	if id.ok || id.reason == "" {
		return id.ok
	}
	if s.cfg.Kind == "events" {
		r.blockedEvents[blockedKey{source: s.rank, typ: typ, raw: id.raw, reason: id.reason}]++
	} else {
		r.blocked = append(r.blocked, blockedIdent{record: recKey(), typ: typ, raw: id.raw, reason: id.reason})
	}
	return false
}

// blockedKey counts one junk value of an event source.
type blockedKey struct {
	source int
	typ    int
	raw    string
	reason string
}

// pendingRows are a profile source's rows in row order, until the source
// ends and they are sorted by primary key: a slice sorted once costs less
// than a map of a million string keys grown and probed row by row.
type pendingRows []pendingRow

type pendingRow struct {
	pk  string
	rec *record
}

// addProfileRow parses a profile row into a record; commitProfiles keeps
// the best per primary key.
func (r *run) addProfileRow(s *sourceRun, pending *pendingRows, row *parsedRow, identTypes, attrFields []int) {
	rec := &record{source: s.rank, pk: row.pk, file: row.file, line: row.line, updated: stampOf(row.ts), first: noStamp, rows: 1, group: -1}
	key := func() string { return s.cfg.Name + "/" + row.pk }
	usable := 0
	for i := range row.idents {
		if r.useIdent(s, identTypes[i], &row.idents[i], key) {
			usable++
		}
	}
	if usable > 0 {
		// One allocation of the right size, not one per append.
		rec.idents = make([]recIdent, 0, usable)
		for i := range row.idents {
			if id := &row.idents[i]; id.ok {
				rec.idents = append(rec.idents, recIdent{typ: identTypes[i], value: id.std, raw: id.raw})
			}
		}
		rec.filled += usable
	}
	if len(row.attrs) > 0 {
		rec.attrs = make([]string, len(r.fields))
		for i, v := range row.attrs {
			if v != "" {
				rec.attrs[attrFields[i]] = v
				rec.filled++
			}
		}
	}
	rec.content = row.content
	*pending = append(*pending, pendingRow{pk: row.pk, rec: rec})
}

func betterRow(a, b *record) bool {
	if a.updated != b.updated {
		return a.updated > b.updated
	}
	if a.filled != b.filled {
		return a.filled > b.filled
	}
	return a.content > b.content
}

// commitProfiles keeps the best row per primary key — the most recently
// updated, then the most filled, then the greatest content, the earlier
// row on a tie, so that the choice never depends on row order — and adds
// those records to the graph in primary key order.
func (r *run) commitProfiles(s *sourceRun, pending *pendingRows) {
	rows := *pending
	*pending = nil
	records := int64(0)
	slices.SortStableFunc(rows, func(a, b pendingRow) int { return strings.Compare(a.pk, b.pk) })
	for start := 0; start < len(rows); {
		pk, rec := rows[start].pk, rows[start].rec
		end := start + 1
		for ; end < len(rows) && rows[end].pk == pk; end++ {
			// A losing row's blocked identifiers were recorded already;
			// the row itself stays in the raw table.
			s.rep.Duplicates++
			if betterRow(rows[end].rec, rec) {
				rec = rows[end].rec
			}
		}
		rec.rows = int32(end - start)
		start = end
		records++
		rec.content = ""
		node, _ := r.g.Record(s.rank, s.cfg.Name+"/"+pk)
		rec.node = node
		// The record shares the graph's copies of its key and identifier
		// values (kept in large blocks) instead of holding its own: fewer
		// objects for the garbage collector to mark.
		rec.pk = r.g.Nodes[node].Value[len(s.cfg.Name)+1:]
		r.addRecord(rec)
		for i, id := range rec.idents {
			rec.idents[i].node = r.ident(id.typ, id.value)
			rec.idents[i].value = r.g.Nodes[rec.idents[i].node].Value
			r.g.Link(identity.Edge{A: node, B: rec.idents[i].node, Kind: identity.HasIdentifier, Group: int32(s.rank), Rule: -1})
		}
	}
	s.rep.Records = records
}

// eventMemo spares the graph goroutine a string lookup per event row for
// what repeats: a visitor's events come in runs, so each identifier column
// remembers its last value and node, and a visitor's record is found by its
// identifier node (the record key is the source name and that value, one
// to one within a source) instead of by a key built per row.
type eventMemo struct {
	std        []string // per identifier column: the last usable value
	node       []int32  // and its node
	visitorRec []int32  // visitor identifier node → record node + 1; 0: none yet
}

func newEventMemo(identCols int) *eventMemo {
	return &eventMemo{std: make([]string, identCols), node: make([]int32, identCols)}
}

// ident returns the node of the usable identifier of column col.
func (m *eventMemo) ident(r *run, col, typ int, std string) int32 {
	if m.node[col] > 0 && m.std[col] == std {
		return m.node[col] - 1
	}
	n := r.ident(typ, std)
	m.std[col], m.node[col] = std, n+1
	return n
}

// addEvent turns one event row into graph evidence: its visitor key becomes
// (or updates) a record, and identifiers that co-occur in the row link the
// visitor key to each other identifier.
func (r *run) addEvent(s *sourceRun, m *eventMemo, row *parsedRow, identTypes []int, visitorCol int) {
	var visitor int32 = -1
	var visitorRaw string
	if visitorCol >= 0 {
		id := &row.idents[visitorCol]
		visitorRaw = id.raw
		if r.useIdent(s, identTypes[visitorCol], id, func() string { return s.cfg.Name + "/" + id.raw }) {
			visitor = m.ident(r, visitorCol, identTypes[visitorCol], id.std)
			var rec *record
			if int(visitor) < len(m.visitorRec) && m.visitorRec[visitor] > 0 {
				rec = r.recs[r.nodeRec[m.visitorRec[visitor]-1]]
			} else {
				// The graph holds a copy of the value; sharing it keeps the
				// event's source line from staying alive with the record.
				v := r.g.Nodes[visitor].Value
				if visitorRaw == v {
					visitorRaw = v
				}
				node, _ := r.g.Record(s.rank, s.cfg.Name+"/"+v)
				rec = &record{node: node, source: s.rank, pk: v, file: row.file, line: row.line, first: stampOf(row.ts), updated: stampOf(row.ts), group: -1,
					idents: []recIdent{{typ: identTypes[visitorCol], node: visitor, value: v, raw: visitorRaw}}, filled: 1}
				r.addRecord(rec)
				s.rep.Records++
				r.g.Link(identity.Edge{A: node, B: visitor, Kind: identity.HasIdentifier, Group: int32(s.rank), Rule: -1})
				if int(visitor) >= len(m.visitorRec) {
					m.visitorRec = append(m.visitorRec, make([]int32, int(visitor)+1-len(m.visitorRec))...)
				}
				m.visitorRec[visitor] = node + 1
			}
			rec.rows++
			if t := stampOf(row.ts); !t.isZero() {
				if rec.first.isZero() || t < rec.first {
					rec.first = t
				}
				rec.updated = max(rec.updated, t)
			}
		}
	}
	// Co-occurrence: the first usable identifier of the row is the hub when
	// there is no visitor key.
	hub := visitor
	for i := range row.idents {
		if i == visitorCol {
			continue
		}
		id := &row.idents[i]
		if !r.useIdent(s, identTypes[i], id, func() string { return s.cfg.Name + "/" + visitorRaw }) {
			continue
		}
		other := m.ident(r, i, identTypes[i], id.std)
		if hub < 0 {
			hub = other
			continue
		}
		r.coOccur(s, hub, other, row.ts, row.pk)
	}
}

func (r *run) coOccur(s *sourceRun, a, b int32, ts time.Time, eventID string) {
	if a == b {
		return
	}
	if a > b {
		a, b = b, a
	}
	k := [2]int32{a, b}
	t := ts.Unix()
	if ts.IsZero() {
		t = 0
	}
	ev, ok := r.coEvidence[k]
	if !ok {
		r.coEvidence[k] = &evidence{text: s.cfg.Name + " event " + eventID, time: t, count: 1}
		r.coSource[k] = int32(s.rank)
		return
	}
	ev.count++
	if t < ev.time {
		ev.time, ev.text = t, s.cfg.Name+" event "+eventID
	}
}

func (r *run) ident(typ int, value string) int32 {
	n := r.g.Ident(typ, value)
	r.growNodes()
	return n
}

func (r *run) addRecord(rec *record) {
	r.growNodes()
	r.nodeRec[rec.node] = int32(len(r.recs))
	r.recs = append(r.recs, rec)
}

func (r *run) growNodes() {
	for len(r.nodeRec) < len(r.g.Nodes) {
		r.nodeRec = append(r.nodeRec, -1)
	}
}

func (r *run) describeNode(n int32) string {
	node := r.g.Nodes[n]
	if node.Record {
		return node.Value
	}
	return fmt.Sprintf("%s:%s", r.types[node.Type].name, node.Value)
}
