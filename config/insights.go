package config

import (
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/knit-cdp/knit/segment"
)

// Activity maps the rows of one event source to activities: one activity
// per accepted row, resolved to its customer through the keyring. The map
// key of activities: is the source name.
type Activity struct {
	Source string `yaml:"-"`
	// Type is a constant activity type ("Purchase"); TypeColumn names the
	// column holding the type instead ("EventName"). Exactly one is set.
	Type       string `yaml:"type"`
	TypeColumn string `yaml:"type_column"`
	// Title is the column shown as the activity's title; default: the type.
	Title string `yaml:"title"`
	// Timestamp is the column of the activity's time; default: the
	// source's timestamp column.
	Timestamp string `yaml:"timestamp"`
	// Properties maps source columns to property names (amount, store),
	// usable in measures, segment conditions and timelines.
	Properties map[string]string `yaml:"properties"`
	PropCols   []string          `yaml:"-"` // property columns in file order
}

// Measure is a customer measure (one value per customer, a column of the
// profile) or a business measure (no customer dimension).
type Measure struct {
	Name string `yaml:"-"`
	// Scope is customer (default) or business.
	Scope string `yaml:"scope"`
	// Aggregate is one of MeasureAggregates; Formula replaces it for
	// arithmetic over other measures ("revenue / orders").
	Aggregate string `yaml:"aggregate"`
	Formula   string `yaml:"formula"`
	// Of is the activity property aggregated (sum, avg, min, max,
	// count_distinct, first, last, argmax, argmin); By is the property
	// argmax/argmin order by.
	Of string `yaml:"of"`
	By string `yaml:"by"`
	// Activity restricts to one activity type; default every type.
	Activity string `yaml:"activity"`
	// Where holds property conditions in the segment language's syntax:
	// store = "S-PDX-01", amount >= 5 (commas between conditions).
	Where string `yaml:"where"`
	// Window restricts activity time in the segment language's syntax:
	// "in the last 30 days", "before 2024-01-01", "after 6 months ago",
	// "between 2024-01-01 and 2024-03-31". Default: all time.
	Window string `yaml:"window"`
	// Dimensions group a business measure: activity properties, source,
	// type, or the time buckets day, month, year.
	Dimensions []string `yaml:"dimensions"`
}

// Segment is a named rule; Static segments keep the members of their
// first evaluation.
type Segment struct {
	Name        string `yaml:"-"`
	Rule        string `yaml:"rule"`
	Static      bool   `yaml:"static"`
	Description string `yaml:"description"`
	// Parsed is the rule's syntax tree, filled by validation.
	Parsed segment.Expr `yaml:"-"`
}

// Export sends a segment (or every profile) to a file, a PostgreSQL table or
// a webhook after each successful run.
type Export struct {
	Name string `yaml:"-"`
	// Segment to export; empty exports the profiles table.
	Segment string `yaml:"segment"`
	// To is csv, ndjson, parquet, postgres or webhook.
	To string `yaml:"to"`
	// Path is the folder of file exports, relative to the project; each
	// run writes a dated folder inside it. Default exports/<name>.
	Path string `yaml:"path"`
	// URL is the PostgreSQL connection URL or the webhook URL; ${VAR}
	// takes an environment variable.
	URL string `yaml:"url"`
	// Table is the PostgreSQL table written (default: the export's name).
	Table string `yaml:"table"`
	// Fields selects the exported columns: customer_id, known, unified
	// fields, measures, and identifier types (their smallest value).
	// Default: customer_id, known, every field and measure.
	Fields []string `yaml:"fields"`
	// Rename maps an exported field to the column name written.
	Rename map[string]string `yaml:"rename"`
	// Hash lists fields sent as the hex SHA-256 of their value (emails and
	// phones for ad platforms).
	Hash []string `yaml:"hash"`
	// Changes sends only the customers who entered or left since the last
	// successful run of this export, with a change column.
	Changes bool `yaml:"changes"`
	// Webhook options.
	Secret    string `yaml:"secret"`     // HMAC-SHA256 key; ${VAR} takes an environment variable
	BatchSize int    `yaml:"batch_size"` // rows per request, default 500
	Retries   int    `yaml:"retries"`    // attempts after the first, default 4
	Backoff   string `yaml:"backoff"`    // first retry delay, doubled each time; default 500ms
}

// Allowed values; the JSON schema lists the same.
var (
	MeasureAggregates = []string{"count", "count_distinct", "sum", "avg", "min", "max", "first", "last",
		"argmax", "argmin", "days_since_first", "days_since_last"}
	measureScopes = []string{"customer", "business"}
	exportTargets = []string{"csv", "ndjson", "parquet", "postgres", "webhook"}
	timeBuckets   = []string{"day", "month", "year"}
)

var segmentType = reflect.TypeOf(Segment{})

// checkInsights validates activities, measures, segments and exports.
func (c *checker) checkInsights() {
	c.checkActivities()
	c.checkMeasures()
	c.checkSegments()
	c.checkExports()
}

func (c *checker) checkActivities() {
	cfg := c.cfg
	cfg.ActivityOrder = c.decoder.order["activities"]
	for _, name := range cfg.ActivityOrder {
		p := "activities." + name
		a := cfg.Activities[name]
		if a == nil {
			a = &Activity{}
			cfg.Activities[name] = a
		}
		a.Source = name
		src, ok := cfg.Sources[name]
		if !ok {
			c.keyErrorf(p, "%q is not a source; activities are keyed by an event source: %s", name, suggest(name, cfg.SourceOrder, "sources"))
			continue
		}
		if src.Kind != "events" {
			c.keyErrorf(p, "source %s is of kind %s; activities come from event sources (kind: events)", name, src.Kind)
		}
		if (a.Type == "") == (a.TypeColumn == "") {
			c.errorf(p, "set exactly one of type (a constant such as Purchase) or type_column (the column holding the type)")
		}
		if a.Timestamp == "" && src.Timestamp == nil {
			c.errorf(p+".timestamp", "required: the column of the activity's time (source %s has no timestamp)", name)
		}
		a.PropCols = c.decoder.order[p+".properties"]
		for _, col := range a.PropCols {
			prop := a.Properties[col]
			pp := p + ".properties." + col
			if !c.checkName(pp, prop, "property") {
				continue
			}
			if slices.Contains(fixedActivityColumns, prop) {
				c.errorf(pp, "%q is a fixed activity column (%s); choose another property name", prop, strings.Join(fixedActivityColumns, ", "))
			}
		}
	}
}

// fixedActivityColumns are the activity table's own columns.
var fixedActivityColumns = []string{"customer_id", "customer_key", "activity_id", "primary_key", "source", "type", "ts", "title", "known_at_time"}

func (c *checker) checkMeasures() {
	cfg := c.cfg
	cfg.MeasureOrder = c.decoder.order["measures"]
	for _, name := range cfg.MeasureOrder {
		p := "measures." + name
		m := cfg.Measures[name]
		if m == nil {
			m = &Measure{}
			cfg.Measures[name] = m
		}
		m.Name = name
		c.checkName(p, name, "measure")
		if _, clash := cfg.Fields[name]; clash {
			c.keyErrorf(p, "%q is also a unified field; a measure needs a name of its own", name)
		}
		c.oneOf(p+".scope", &m.Scope, "customer", measureScopes, "measure scope")
		if m.Formula != "" {
			if m.Aggregate != "" || m.Of != "" || m.Where != "" || m.Window != "" || m.Activity != "" {
				c.errorf(p+".formula", "a formula combines other measures; it takes no aggregate, of, activity, where or window")
			}
			continue
		}
		if !c.oneOf(p+".aggregate", &m.Aggregate, "", MeasureAggregates, "aggregate") {
			continue
		}
		needsOf := !slices.Contains([]string{"count", "days_since_first", "days_since_last"}, m.Aggregate)
		if needsOf && m.Of == "" {
			c.errorf(p+".of", "required for %s: the activity property to aggregate", m.Aggregate)
		}
		if (m.Aggregate == "argmax" || m.Aggregate == "argmin") != (m.By != "") {
			c.errorf(p+".by", "by (the property to order by) goes with argmax and argmin only")
		}
		if m.Scope == "business" && strings.HasPrefix(m.Aggregate, "days_since") {
			c.errorf(p+".aggregate", "%s is a customer measure; business measures have no customer", m.Aggregate)
		}
		if m.Scope == "customer" && len(m.Dimensions) > 0 {
			c.errorf(p+".dimensions", "dimensions group business measures (scope: business)")
		}
		if m.Where != "" || m.Window != "" {
			if _, err := ParseActivityFilter(m.Where, m.Window); err != nil {
				key := p + ".where"
				if strings.HasPrefix(err.Error(), "window ") {
					key = p + ".window"
				}
				c.errorf(key, "%s", strings.ReplaceAll(err.Error(), "\n", "\n\t"))
			}
		}
	}
}

// ParseActivityFilter parses a measure's where and window in the segment
// language's syntax and returns them as a Did node (type left empty).
// Errors point into where or window, not into the rule built from them.
func ParseActivityFilter(where, window string) (*segment.Did, error) {
	src := `did "x"`
	if where != "" {
		src = filterPrefix + where
	}
	if window != "" {
		src += " " + window
	}
	e, err := segment.Parse(src)
	if err != nil {
		return nil, FilterError(where, window, err)
	}
	did, ok := e.(*segment.Did)
	if !ok || did.Count != nil || did.While != segment.WhileAny {
		return nil, fmt.Errorf("where takes property conditions separated by commas and window a time window (in the last 30 days, before 2024-01-01, between … and …)")
	}
	return did, nil
}

// filterPrefix is what ParseActivityFilter puts before a where list.
const filterPrefix = `did "x" where `

// FilterError rewrites a rule error of a parsed or compiled activity
// filter so that it names where or window and its column there.
func FilterError(where, window string, err error) error {
	se, ok := err.(*segment.SyntaxError)
	if !ok || se.Line != 1 {
		return err
	}
	// The rule reads `did "x" where <where> <window>`, or `did "x" <window>`.
	key, text, col := "where", where, se.Col-len([]rune(filterPrefix))
	windowAt := len([]rune(`did "x" `)) + 1
	if where != "" {
		windowAt = len([]rune(filterPrefix+where)) + 2
	}
	if window != "" && (where == "" || se.Col >= windowAt) {
		key, text, col = "window", window, se.Col-windowAt+1
	}
	if col < 1 {
		col = 1
	}
	return fmt.Errorf("%s %s", key, (&segment.SyntaxError{Line: 1, Col: col, Msg: se.Msg, Source: text}).Error())
}

func (c *checker) checkSegments() {
	cfg := c.cfg
	cfg.SegmentOrder = c.decoder.order["segments"]
	for _, name := range cfg.SegmentOrder {
		p := "segments." + name
		s := cfg.Segments[name]
		if s == nil {
			s = &Segment{}
			cfg.Segments[name] = s
		}
		s.Name = name
		c.checkName(p, name, "segment")
		if strings.TrimSpace(s.Rule) == "" {
			c.errorf(p, "a segment needs a rule, e.g. %s: known and did \"Checkout\"", name)
			continue
		}
		e, err := segment.Parse(s.Rule)
		if err != nil {
			c.errorf(p, "%s", strings.ReplaceAll(err.Error(), "\n", "\n\t"))
			continue
		}
		s.Parsed = e
	}
}

func (c *checker) checkExports() {
	cfg := c.cfg
	cfg.ExportOrder = c.decoder.order["exports"]
	for _, name := range cfg.ExportOrder {
		p := "exports." + name
		x := cfg.Exports[name]
		if x == nil {
			x = &Export{}
			cfg.Exports[name] = x
		}
		x.Name = name
		c.checkName(p, name, "export")
		if x.Segment != "" {
			if _, ok := cfg.Segments[x.Segment]; !ok {
				c.errorf(p+".segment", "%q is not a segment; %s", x.Segment, suggest(x.Segment, cfg.SegmentOrder, "segments"))
			}
		}
		if !c.oneOf(p+".to", &x.To, "", exportTargets, "export target") {
			continue
		}
		switch x.To {
		case "postgres", "webhook":
			if x.URL == "" {
				c.errorf(p+".url", "required for %s exports", x.To)
			}
		default:
			if x.Path == "" {
				x.Path = path.Join("exports", name)
			}
		}
		if x.Table == "" {
			x.Table = name
		}
		if x.To == "postgres" {
			c.checkName(p+".table", x.Table, "table")
		}
		if x.BatchSize == 0 {
			x.BatchSize = 500
		}
		if x.Retries == 0 {
			x.Retries = 4
		}
		if x.Backoff == "" {
			x.Backoff = "500ms"
		}
		if d, err := time.ParseDuration(x.Backoff); err != nil || d <= 0 {
			c.errorf(p+".backoff", "%q is not a duration; write e.g. 500ms or 2s", x.Backoff)
		}
		if x.BatchSize < 0 || x.Retries < 0 {
			c.errorf(p, "batch_size and retries must not be negative")
		}
		if x.Changes && x.Segment == "" {
			c.errorf(p+".changes", "changes (entered/left) needs a segment")
		}
	}
}
