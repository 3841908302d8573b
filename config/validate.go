package config

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // timezones validate the same on every host, with or without system tzdata
)

// Allowed values. The JSON schema lists the same values; a test keeps them
// in step.
var (
	sourceFormats     = []string{"csv", "ndjson", "json", "parquet"}
	sourceKinds       = []string{"profiles", "events"}
	timeKeywords      = []string{"rfc3339", "unix", "unix_ms", "date", "auto"}
	columnTypes       = []string{"string", "int", "float", "bool", "date", "timestamp"}
	identNormalizers  = []string{"email", "phone", "text", "digits", "exact"}
	fieldPolicies     = []string{"source_priority", "most_recent", "least_recent", "most_filled"}
	fieldNormalizers  = []string{"text", "name", "first_name", "email", "phone", "digits", "exact", "address", "organization"}
	dedupeWinners     = []string{"most_filled", "most_recent", "least_recent"}
	precisionLevels   = []string{"exact", "low", "medium", "high"}
	similarityMetrics = []string{"edit", "jaro_winkler", "token"}
)

// Defaults, documented in docs/configuration.md.
const (
	DefaultStore            = "knit.duckdb"
	DefaultRegion           = "US"
	DefaultGenericThreshold = 10
)

// Names of sources, identifier types and fields become SQL identifiers
// (table and column names) in every engine. Restricting them to lower-case
// letters, digits and underscores is a security check, not style: it keeps
// user text from ever being spliced into SQL as anything but a plain name.
// 63 characters is PostgreSQL's identifier limit.
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

var regionPattern = regexp.MustCompile(`^[A-Z]{2}$`)

const nameRule = "names must start with a lower-case letter and use only a-z, 0-9 and _ (at most 63 characters)"

func (c *checker) checkName(keyPath, name, what string) bool {
	if namePattern.MatchString(name) {
		return true
	}
	c.keyErrorf(keyPath, "%q is not a valid %s name; %s", name, what, nameRule)
	return false
}

// checkFieldName allows dotted field names (person.first_name): each part
// must be a valid name.
func (c *checker) checkFieldName(keyPath, name string) bool {
	for part := range strings.SplitSeq(name, ".") {
		if !namePattern.MatchString(part) {
			c.keyErrorf(keyPath, "%q is not a valid field name; each dot-separated part follows the rule: %s", name, nameRule)
			return false
		}
	}
	return true
}

// oneOf checks *value against allowed, filling def when it is empty.
func (c *checker) oneOf(p string, value *string, def string, allowed []string, what string) bool {
	if *value == "" {
		*value = def
	}
	if slices.Contains(allowed, *value) {
		return true
	}
	c.errorf(p, "%q is not a valid %s; %s", *value, what, suggestValue(*value, allowed))
	return false
}

// suggestValue is suggest for values: it always lists what is allowed.
func suggestValue(got string, allowed []string) string {
	list := "use one of " + strings.Join(allowed, ", ")
	if s := suggest(got, allowed, ""); strings.HasPrefix(s, "did you mean") {
		return s + " (" + list + ")"
	}
	return list
}

func (c *checker) check() {
	cfg := c.cfg
	if c.present("version") && cfg.Version != 1 {
		c.errorf("version", "unsupported version %d; this knit reads version 1 (or leave version out)", cfg.Version)
	}
	cfg.Version = 1
	if cfg.Store == "" {
		cfg.Store = DefaultStore
	}
	c.checkStore()
	c.checkSources()
	c.checkIdentifiers()
	c.checkGuards()
	c.checkUnifyOrder()
	c.checkFields()
	c.checkUnify()
	c.checkInsights()
	c.checkServe()
}

func (c *checker) checkSources() {
	cfg := c.cfg
	cfg.SourceOrder = c.decoder.order["sources"]
	if len(cfg.SourceOrder) == 0 {
		c.errorf("sources", "at least one source is required, e.g. sources: {web: {file: data/web.csv, primary_key: id}}")
		return
	}
	for _, name := range cfg.SourceOrder {
		p := "sources." + name
		s := cfg.Sources[name]
		if s == nil { // "web:" with no settings
			s = &Source{}
			cfg.Sources[name] = s
		}
		s.Name = name
		c.checkName(p, name, "source")
		c.checkSource(p, s)
	}
}

func (c *checker) checkSource(p string, s *Source) {
	switch {
	case s.Table != "":
		c.checkTableSource(p, s)
	case s.File == "":
		c.errorf(p+".file", "required: the data file or glob, relative to the project folder (e.g. data/%s.csv), or a PostgreSQL table (table: name)", s.Name)
	case s.URL != "" || s.JSON != "":
		c.errorf(p+".table", "url and json apply to table sources; this source reads the file %s", s.File)
	}
	ext := fileExtension(s.File)
	if s.Table != "" {
		// Nothing about files applies.
	} else if s.Format == "" && s.File != "" {
		s.Format = formatByExtension[ext]
		if s.Format == "" {
			// Placed at file: that is the value to look at.
			c.problems = append(c.problems, problem{pos: c.at(p + ".file"), path: p + ".format",
				message: fmt.Sprintf("cannot tell the format of %q from its extension; add format: one of %s", s.File, strings.Join(sourceFormats, ", "))})
		}
	} else if s.Format != "" {
		c.oneOf(p+".format", &s.Format, "", sourceFormats, "format")
	}
	if s.Table == "" {
		c.checkCSV(p, s, ext)
	}
	c.oneOf(p+".kind", &s.Kind, "profiles", sourceKinds, "kind")
	if s.PrimaryKey == "" {
		c.errorf(p+".primary_key", "required: the column that identifies a row of this source")
	}

	s.IdentCols = c.decoder.order[p+".identifiers"]
	for _, col := range s.IdentCols {
		if typ := s.Identifiers[col]; typ == "" {
			c.errorf(p+".identifiers."+col, "give the identifier type of column %q, e.g. %s: email", col, col)
		} else {
			c.checkName(p+".identifiers."+col, typ, "identifier type")
		}
	}
	s.AttrCols = c.decoder.order[p+".attributes"]
	for _, col := range s.AttrCols {
		if field := s.Attributes[col]; field == "" {
			c.errorf(p+".attributes."+col, "give the unified field of column %q, e.g. %s: person.first_name", col, col)
		} else {
			c.checkFieldName(p+".attributes."+col, field)
		}
	}

	switch {
	case s.Kind != "events" && s.VisitorKey != "":
		c.errorf(p+".visitor_key", "applies only to kind: events (this source is kind: %s)", s.Kind)
	case s.Kind == "events" && s.VisitorKey == "":
		if len(s.IdentCols) == 0 {
			c.errorf(p+".identifiers", "an events source needs at least one identifier column: its distinct values become the visitors")
		} else {
			s.VisitorKey = s.IdentCols[0]
		}
	case s.Kind == "events" && !slices.Contains(s.IdentCols, s.VisitorKey):
		c.errorf(p+".visitor_key", "%q is not an identifier column of this source; use one of: %s", s.VisitorKey, strings.Join(s.IdentCols, ", "))
	}

	if s.Timestamp != nil {
		c.checkTimeField(p+".timestamp", s.Timestamp)
	}
	if s.UpdatedAt != nil {
		c.checkTimeField(p+".updated_at", s.UpdatedAt)
	}
	for _, col := range c.decoder.order[p+".columns"] {
		c.checkColumn(p+".columns."+col, s.Columns, col)
	}
	if _, err := parseMaxRejected(s.MaxRejected); err != nil {
		c.errorf(p+".max_rejected", "%v", err)
	}
}

var formatByExtension = map[string]string{
	".csv": "csv", ".tsv": "csv", ".txt": "csv",
	".ndjson": "ndjson", ".jsonl": "ndjson",
	".json":    "json",
	".parquet": "parquet",
}

// fileExtension is the lower-case extension of a file or glob, looking
// through a compression suffix (data.csv.gz is a CSV file).
func fileExtension(file string) string {
	file = strings.ToLower(file)
	for _, z := range []string{".gz", ".zst", ".bz2"} {
		file = strings.TrimSuffix(file, z)
	}
	return path.Ext(file)
}

func (c *checker) checkCSV(p string, s *Source, ext string) {
	if s.Format != "csv" {
		if c.present(p + ".csv") {
			c.errorf(p+".csv", "csv options apply only to format: csv (this source is format: %s)", s.Format)
		}
		return
	}
	if s.CSV.Delimiter == "" {
		s.CSV.Delimiter = ","
		if ext == ".tsv" {
			s.CSV.Delimiter = "\t"
		}
	}
	if len([]rune(s.CSV.Delimiter)) != 1 {
		c.errorf(p+".csv.delimiter", "%q must be exactly one character (write a tab as \"\\t\")", s.CSV.Delimiter)
	}
	if len([]rune(s.CSV.Comment)) > 1 {
		c.errorf(p+".csv.comment", "%q must be a single character such as \"#\"", s.CSV.Comment)
	}
	if s.CSV.Header == nil {
		header := true
		s.CSV.Header = &header
	}
}

func (c *checker) checkTimeField(p string, t *TimeField) {
	if t.Column == "" {
		c.errorf(p+".column", "required: the column holding the time")
	}
	layout, err := normalizeTimeFormat(t.Format)
	if err != nil {
		c.errorf(p+".format", "%v", err)
	}
	t.Format = layout
	if t.Timezone == "" {
		t.Timezone = "UTC"
	}
	if _, err := time.LoadLocation(t.Timezone); err != nil {
		c.errorf(p+".timezone", "unknown time zone %q; use an IANA name such as UTC, Europe/Paris or America/New_York", t.Timezone)
	}
}

func (c *checker) checkColumn(p string, columns map[string]*Column, name string) {
	col := columns[name]
	if col == nil {
		col = &Column{}
		columns[name] = col
	}
	if !c.oneOf(p+".type", &col.Type, "string", columnTypes, "column type") {
		return
	}
	if p := p + ".format"; col.Type == "date" || col.Type == "timestamp" {
		layout, err := normalizeTimeFormat(col.Format)
		if err != nil {
			c.errorf(p, "%v", err)
		}
		col.Format = layout
	} else if col.Format != "" {
		c.errorf(p, "format applies only to date and timestamp columns (this column is %s)", col.Type)
	}
}

func (c *checker) checkIdentifiers() {
	cfg := c.cfg
	if cfg.Identifiers == nil {
		cfg.Identifiers = map[string]*Identifier{}
	}
	for _, name := range c.decoder.order["identifiers"] {
		c.checkName("identifiers."+name, name, "identifier type")
	}
	cfg.IdentOrder = declareUsed(cfg.Identifiers, c.decoder.order["identifiers"], c.sources(),
		func(s *Source) ([]string, map[string]string) { return s.IdentCols, s.Identifiers })
	for i, name := range cfg.IdentOrder {
		id := cfg.Identifiers[name]
		p := "identifiers." + name
		id.Name = name
		c.oneOf(p+".normalize", &id.Normalize, defaultIdentNormalize(name), identNormalizers, "identifier normalize")
		if id.DefaultRegion == "" {
			id.DefaultRegion = DefaultRegion
		}
		id.DefaultRegion = strings.ToUpper(id.DefaultRegion)
		if !regionPattern.MatchString(id.DefaultRegion) {
			c.errorf(p+".default_region", "%q is not a region; use a two-letter ISO 3166 code such as US, GB or FR", id.DefaultRegion)
		}
		if id.Known == nil {
			known := !isAnonymousType(name)
			id.Known = &known
		}
		if id.Strong == nil {
			strong := *id.Known
			id.Strong = &strong
		}
		if id.Limit < 0 {
			c.errorf(p+".limit", "%d is negative; use 0 for no limit or a positive count", id.Limit)
		}
		if id.Priority < 0 {
			c.errorf(p+".priority", "%d is negative; priorities are 1, 2, 3… (lower links first)", id.Priority)
		}
		if id.Priority == 0 {
			id.Priority = i + 1
		}
	}
}

// sources returns the sources in file order.
func (c *checker) sources() []*Source {
	out := make([]*Source, 0, len(c.cfg.SourceOrder))
	for _, name := range c.cfg.SourceOrder {
		out = append(out, c.cfg.Sources[name])
	}
	return out
}

// declareUsed gives every name a (possibly empty) entry: the declared names
// in file order, then the names sources use (through use: columns in file
// order and column -> name) without declaring them, in order of first use.
// Defaults are then applied to all entries alike.
func declareUsed[T any](entries map[string]*T, declared []string, sources []*Source, use func(*Source) ([]string, map[string]string)) []string {
	order := append([]string(nil), declared...)
	for _, name := range declared {
		if entries[name] == nil {
			entries[name] = new(T)
		}
	}
	for _, s := range sources {
		cols, names := use(s)
		for _, col := range cols {
			if name := names[col]; name != "" && entries[name] == nil {
				entries[name] = new(T)
				order = append(order, name)
			}
		}
	}
	return order
}

func defaultIdentNormalize(name string) string {
	switch {
	case name == "email" || strings.HasSuffix(name, "_email"):
		return "email"
	case name == "phone" || strings.HasSuffix(name, "_phone"):
		return "phone"
	}
	// Identifiers are IDs: "A-1001" and "a 1001" are different customers,
	// and anonymous IDs are case-sensitive. Only surrounding space goes.
	return "exact"
}

func isAnonymousType(name string) bool {
	return name == "anonymous_id" || name == "anonymous" || strings.HasSuffix(name, "_anonymous_id")
}

func (c *checker) checkGuards() {
	g := &c.cfg.Guards
	if !c.present("guards.generic_threshold") {
		g.GenericThreshold = DefaultGenericThreshold
	} else if g.GenericThreshold < 1 {
		c.errorf("guards.generic_threshold", "%d is too small; use a count of at least 1 (default %d)", g.GenericThreshold, DefaultGenericThreshold)
	}
	for i, pattern := range g.BlockedPatterns {
		if _, err := regexp.Compile(pattern); err != nil {
			c.errorf(fmt.Sprintf("guards.blocked_patterns[%d]", i), "not a valid regular expression: %v", err)
		}
	}
}

// checkSourceList checks that names are existing sources, each at most once.
func (c *checker) checkSourceList(p string, names []string) {
	seen := map[string]bool{}
	for i, name := range names {
		ip := fmt.Sprintf("%s[%d]", p, i)
		c.checkSourceName(ip, name)
		if seen[name] {
			c.errorf(ip, "source %q is listed twice; list each source at most once", name)
		}
		seen[name] = true
	}
}

func (c *checker) checkSourceName(p, name string) bool {
	if _, ok := c.cfg.Sources[name]; ok {
		return true
	}
	c.errorf(p, "%q is not a source; %s", name, suggest(name, c.cfg.SourceOrder, "sources"))
	return false
}

// completeOrder returns order followed by the names of base it lacks.
func completeOrder(order, base []string) []string {
	out := append([]string(nil), order...)
	for _, name := range base {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func (c *checker) checkUnifyOrder() {
	u := &c.cfg.Unify
	c.checkSourceList("unify.order", u.Order)
	u.Order = completeOrder(u.Order, c.cfg.SourceOrder)
}

func (c *checker) checkFields() {
	cfg := c.cfg
	if cfg.Fields == nil {
		cfg.Fields = map[string]*Field{}
	}
	for _, name := range c.decoder.order["fields"] {
		c.checkFieldName("fields."+name, name)
	}
	cfg.FieldOrder = declareUsed(cfg.Fields, c.decoder.order["fields"], c.sources(),
		func(s *Source) ([]string, map[string]string) { return s.AttrCols, s.Attributes })
	for _, name := range cfg.FieldOrder {
		f := cfg.Fields[name]
		p := "fields." + name
		f.Name = name
		c.oneOf(p+".policy", &f.Policy, "source_priority", fieldPolicies, "field policy")
		c.oneOf(p+".normalize", &f.Normalize, "text", fieldNormalizers, "field normalize")
		c.checkSourceList(p+".order", f.Order)
		f.Order = completeOrder(f.Order, cfg.Unify.Order)
	}
}

func (c *checker) checkUnify() {
	cfg := c.cfg
	u := &cfg.Unify
	c.checkSourceList("unify.include_all_records", u.IncludeAllRecords)
	for _, src := range c.decoder.order["unify.dedupe"] {
		p := "unify.dedupe." + src
		if _, ok := cfg.Sources[src]; !ok {
			c.keyErrorf(p, "%q is not a source; %s", src, suggest(src, cfg.SourceOrder, "sources"))
		}
		if u.Dedupe[src] == nil {
			u.Dedupe[src] = &Dedupe{}
		}
		dd := u.Dedupe[src]
		c.oneOf(p+".winner", &dd.Winner, "most_filled", dedupeWinners, "dedupe winner")
		c.checkRules(p+".rules", dd.Rules, true)
	}
	c.checkRules("unify.rules", u.Rules, false)
	c.checkModel()
}

func (c *checker) checkRules(p string, rules []*Rule, dedupe bool) {
	for i, rule := range rules {
		rp := fmt.Sprintf("%s[%d]", p, i)
		if rule == nil {
			c.errorf(rp, "empty rule; a rule needs conditions: [{field: ...}]")
			continue
		}
		if rule.Name == "" {
			rule.Name = fmt.Sprintf("rule %d", i+1)
		}
		if dedupe && len(rule.Sources) > 0 {
			c.errorf(rp+".sources", "a dedupe rule applies within its own source; remove sources")
		} else {
			c.checkSourceList(rp+".sources", rule.Sources)
		}
		if len(rule.Conditions) == 0 {
			c.errorf(rp+".conditions", "rule %q needs at least one condition, e.g. conditions: [{field: email}]", rule.Name)
		}
		for j, cond := range rule.Conditions {
			cp := fmt.Sprintf("%s.conditions[%d]", rp, j)
			if cond == nil {
				c.errorf(cp, "empty condition; write {field: ...}")
				continue
			}
			c.checkCondition(cp, cond)
		}
		for j, cond := range rule.Except {
			cp := fmt.Sprintf("%s.except[%d]", rp, j)
			if cond == nil {
				c.errorf(cp, "empty exception; write {field: ...}")
				continue
			}
			c.checkCondition(cp, cond)
		}
	}
}

func (c *checker) checkCondition(p string, cond *Condition) {
	cfg := c.cfg
	_, isField := cfg.Fields[cond.Field]
	_, isIdent := cfg.Identifiers[cond.Field]
	switch {
	case cond.Field == "":
		c.errorf(p+".field", "required: an attribute field or an identifier type to compare")
	case !isField && !isIdent:
		known := append(append([]string(nil), cfg.FieldOrder...), cfg.IdentOrder...)
		c.errorf(p+".field", "%q is neither an attribute field nor an identifier type; %s", cond.Field, suggest(cond.Field, known, "known fields and identifier types"))
	}
	if cond.Precision == "" {
		cond.Precision = "exact"
	}
	if _, err := precisionThreshold(cond.Precision); err != nil {
		c.errorf(p+".precision", "%v", err)
	} else if cond.Precision != "exact" && cond.Field != "" {
		c.checkFuzzyText(p+".precision", cond.Field)
	}
	c.oneOf(p+".metric", &cond.Metric, "edit", similarityMetrics, "similarity metric")
}

// checkFuzzyText rejects fuzzy matching on a field fed by a typed column:
// string similarity of numbers or dates is meaningless.
func (c *checker) checkFuzzyText(p, field string) {
	for _, src := range c.cfg.SourceOrder {
		s := c.cfg.Sources[src]
		for col, col2 := range s.Columns {
			if col2 == nil || col2.Type == "string" || col2.Type == "" {
				continue
			}
			if s.Attributes[col] == field || s.Identifiers[col] == field {
				c.errorf(p, "fuzzy matching compares text; %q is fed by sources.%s.columns.%s, a %s column; use precision: exact", field, src, col, col2.Type)
				return
			}
		}
	}
}

// Named precisions and their similarity thresholds.
var precisionThresholds = map[string]float64{"exact": 1, "low": 0.30, "medium": 0.60, "high": 0.80}

func precisionThreshold(precision string) (float64, error) {
	if t, ok := precisionThresholds[precision]; ok {
		return t, nil
	}
	t, err := strconv.ParseFloat(precision, 64)
	if err != nil || !(t > 0 && t <= 1) {
		return 0, fmt.Errorf("%q is not a precision; use exact, low (0.30), medium (0.60), high (0.80) or a similarity in (0, 1] such as 0.9", precision)
	}
	return t, nil
}

// Threshold is the similarity a comparison must reach for the condition to
// hold: 1 for exact, 0.30/0.60/0.80 for low/medium/high, or the number
// given. An invalid precision (impossible after Load) counts as exact.
func (c *Condition) Threshold() float64 {
	t, err := precisionThreshold(c.Precision)
	if err != nil || c.Precision == "" {
		return 1
	}
	return t
}

// rejectBudget is a parsed max_rejected.
type rejectBudget struct {
	unlimited bool
	isPercent bool
	count     int64
	percent   float64
}

func parseMaxRejected(s string) (rejectBudget, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return rejectBudget{unlimited: true}, nil
	}
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		p, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || p < 0 || p > 100 {
			return rejectBudget{}, fmt.Errorf("%q is not a percentage; use a share of rows between 0%% and 100%% such as \"1%%\" or \"0.5%%\"", s)
		}
		return rejectBudget{isPercent: true, percent: p}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return rejectBudget{}, fmt.Errorf("%q is not a row count or percentage; use a whole number ≥ 0 such as 100, or a percentage such as \"1%%\"", s)
	}
	return rejectBudget{count: n}, nil
}

// RejectBudget returns how many rejected rows a run over totalRows rows of
// this source tolerates; -1 means no limit. A percentage rounds down, so
// "1%" of 150 rows allows 1. An invalid max_rejected (impossible after
// Load) allows none.
func (s *Source) RejectBudget(totalRows int64) int64 {
	b, err := parseMaxRejected(s.MaxRejected)
	switch {
	case err != nil: // impossible after Load; fail safe
		return 0
	case b.unlimited:
		return -1
	case b.isPercent:
		return int64(float64(totalRows) * b.percent / 100)
	default:
		return b.count
	}
}

// checkStore validates a PostgreSQL store URL: knit.yaml is usually
// committed, so a password in it is refused (PGPASSWORD or ~/.pgpass hold
// it instead), and the schema parameter must be a plain identifier.
func (c *checker) checkStore() {
	store := c.cfg.Store
	if !strings.HasPrefix(store, "postgres://") && !strings.HasPrefix(store, "postgresql://") {
		return
	}
	u, err := url.Parse(store)
	if err != nil {
		c.errorf("store", "not a valid URL (%v); write postgres://user@host:5432/database?schema=name", err)
		return
	}
	if _, ok := u.User.Password(); ok || u.Query().Get("password") != "" {
		c.errorf("store", "the URL holds a password; remove it (postgres://%s@%s%s) and set PGPASSWORD in the environment or use ~/.pgpass", u.User.Username(), u.Host, u.Path)
	}
	if u.Path == "" || u.Path == "/" {
		c.errorf("store", "the URL names no database; write postgres://user@host:5432/database")
	}
	if schema := u.Query().Get("schema"); schema != "" && !schemaName.MatchString(schema) {
		c.errorf("store", "schema %q is not a valid schema name; use lowercase letters, digits and _, starting with a letter or _, at most 63 characters", schema)
	}
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
