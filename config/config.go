// Package config reads and validates a knit project: a folder holding
// knit.yaml. Every error names the file, line, key, what is wrong and what is
// allowed; bad configuration fails before any data is touched.
package config

import "path/filepath"

// FileName is the name of the configuration file inside a project folder.
const FileName = "knit.yaml"

// Project is a loaded, validated project.
type Project struct {
	Dir    string // absolute path of the project folder
	Path   string // absolute path of knit.yaml
	Config Config
}

// Resolve returns the path of a file a project names: as given when it is
// absolute, else relative to dir (the project folder, where knit.yaml and
// truth.yaml name their files from).
func Resolve(dir, file string) string {
	if file == "" || filepath.IsAbs(file) {
		return file
	}
	return filepath.Join(dir, file)
}

// Config mirrors knit.yaml. Maps keep the YAML order where order matters
// through the parallel *Order slices filled by the loader.
type Config struct {
	Version int `yaml:"version"`
	// Store is where results live: a DuckDB file path relative to the
	// project (default knit.duckdb). A postgres:// URL selects PostgreSQL.
	Store string `yaml:"store"`

	Sources     map[string]*Source     `yaml:"sources"`
	SourceOrder []string               `yaml:"-"` // sources in file order
	Identifiers map[string]*Identifier `yaml:"identifiers"`
	IdentOrder  []string               `yaml:"-"` // identifier types in file order
	Guards      Guards                 `yaml:"guards"`
	Unify       Unify                  `yaml:"unify"`
	Fields      map[string]*Field      `yaml:"fields"`
	FieldOrder  []string               `yaml:"-"`
	Overrides   Overrides              `yaml:"overrides"`

	// Activities, measures, segments and exports: see insights.go.
	Activities    map[string]*Activity `yaml:"activities"`
	ActivityOrder []string             `yaml:"-"`
	Measures      map[string]*Measure  `yaml:"measures"`
	MeasureOrder  []string             `yaml:"-"`
	Segments      map[string]*Segment  `yaml:"segments"`
	SegmentOrder  []string             `yaml:"-"`
	Exports       map[string]*Export   `yaml:"exports"`
	ExportOrder   []string             `yaml:"-"`

	// Serve configures knit serve: see serve.go.
	Serve *Serve `yaml:"serve"`
}

// Source is one input: a file or glob of CSV, NDJSON/JSON or Parquet, or a
// PostgreSQL table or view (docs/postgres.md#sources-read-from-tables).
type Source struct {
	Name string `yaml:"-"`
	File string `yaml:"file"` // path or glob, relative to the project folder
	// Table is a PostgreSQL table or view, "name" or "schema.name", read
	// from the store's database or from URL. Exclusive with File.
	Table string `yaml:"table"`
	// URL is the PostgreSQL database holding Table when it is not the
	// store's (postgres://user@host/db, no password).
	URL string `yaml:"url"`
	// JSON names a json/jsonb/text column of Table holding one JSON object
	// per row, read as an NDJSON line is (dotted paths reach into it).
	JSON   string `yaml:"json"`
	Format string `yaml:"format"` // csv | ndjson | json | parquet; default from the extension
	CSV    CSV    `yaml:"csv"`
	// Kind is "profiles" (one row per customer-ish record, the default) or
	// "events" (many rows per visitor: each distinct visitor key becomes a
	// record and identifiers that co-occur in a row link each other).
	Kind       string `yaml:"kind"`
	PrimaryKey string `yaml:"primary_key"`
	// VisitorKey is the column whose distinct values become records of an
	// event source; default: the first identifier column.
	VisitorKey string     `yaml:"visitor_key"`
	Timestamp  *TimeField `yaml:"timestamp"`  // event time (events) or row time
	UpdatedAt  *TimeField `yaml:"updated_at"` // when the row last changed (profiles)
	// Columns declares types of columns: string (default), int, float,
	// bool, date, timestamp. Values that do not parse reject the row.
	Columns     map[string]*Column `yaml:"columns"`
	Identifiers map[string]string  `yaml:"identifiers"` // column -> identifier type
	IdentCols   []string           `yaml:"-"`           // identifier columns in file order
	Attributes  map[string]string  `yaml:"attributes"`  // column -> unified field
	AttrCols    []string           `yaml:"-"`           // attribute columns in file order
	// MaxRejected is the error budget: the run fails when more rows than
	// this are rejected (an integer) or more than this share of rows (a
	// percentage such as "1%"). Default: no limit.
	MaxRejected string `yaml:"max_rejected"`
	// Anonymous marks a source whose records alone do not make a profile
	// known (web events of visitors who never signed in).
	Anonymous bool `yaml:"anonymous"`
}

// CSV options.
type CSV struct {
	Delimiter        string `yaml:"delimiter"` // default ","
	Header           *bool  `yaml:"header"`    // default true
	SkipInitialSpace bool   `yaml:"skip_initial_space"`
	Comment          string `yaml:"comment"`
}

// TimeField is a timestamp column with its layout. Format is a Go reference
// layout ("01-02-2006 15:04:05") or one of: rfc3339, unix, unix_ms, date,
// auto (default: RFC 3339, "2006-01-02 15:04:05", "2006-01-02").
type TimeField struct {
	Column   string `yaml:"column"`
	Format   string `yaml:"format"`
	Timezone string `yaml:"timezone"` // IANA name; default UTC
}

// Column is a typed column.
type Column struct {
	Type   string `yaml:"type"`
	Format string `yaml:"format"` // for date and timestamp
}

// Identifier configures one identifier type.
type Identifier struct {
	Name string `yaml:"-"`
	// Normalize picks the standardiser: email, phone, text (trim, case,
	// Unicode folding; the default), digits, exact.
	Normalize     string `yaml:"normalize"`
	DefaultRegion string `yaml:"default_region"` // phone: region for numbers without +country, default US
	Known         *bool  `yaml:"known"`          // default true; false for anonymous_id
	Limit         int    `yaml:"limit"`          // at most this many values per profile; 0 = no limit
	Priority      int    `yaml:"priority"`       // lower links first; default: file order
	Strong        *bool  `yaml:"strong"`         // counts for generic-value detection; default = known
}

// Guards protect profiles from bad links.
type Guards struct {
	BlockedValues   []string `yaml:"blocked_values"`   // added to the defaults
	BlockedPatterns []string `yaml:"blocked_patterns"` // regular expressions on the standardised value
	NoDefaults      bool     `yaml:"no_default_blocklist"`
	// GenericThreshold: an identifier value seen with more distinct strong
	// identifiers than this is generic: reported and not used. Default 10.
	GenericThreshold int `yaml:"generic_threshold"`
}

// Unify configures deduplication and matching.
type Unify struct {
	Order             []string           `yaml:"order"`               // source precedence; default: file order
	IncludeAllRecords []string           `yaml:"include_all_records"` // sources whose unmatched records still get profiles
	Dedupe            map[string]*Dedupe `yaml:"dedupe"`
	Rules             []*Rule            `yaml:"rules"`
	// Model is the probabilistic (Fellegi–Sunter) matcher, trained by
	// "knit train" and applied by "knit run" after the rules; see model.go.
	Model *Model `yaml:"model"`
}

// Dedupe configures deduplication within one source.
type Dedupe struct {
	Winner string  `yaml:"winner"` // most_filled (default) | most_recent | least_recent
	Rules  []*Rule `yaml:"rules"`
}

// Rule is a match rule: all conditions must hold (AND); rules are OR-ed and
// applied in order.
type Rule struct {
	Name       string       `yaml:"name"`
	Sources    []string     `yaml:"sources"` // default: all
	Conditions []*Condition `yaml:"conditions"`
	// Except lists exception conditions: a pair the conditions link is
	// still not linked when both records have a value for an exception's
	// field and the values do not match at its precision ("except when
	// first names differ", for twins).
	Except []*Condition `yaml:"except"`
}

// Condition compares one field (a unified attribute or an identifier type).
type Condition struct {
	Field string `yaml:"field"`
	// Precision is exact (the default), low (0.30), medium (0.60), high
	// (0.80) or a similarity threshold in (0,1]; see Threshold.
	Precision string `yaml:"precision"`
	// Metric is the similarity used by a fuzzy precision: edit (the
	// default, normalised Levenshtein), jaro_winkler or token (word sets).
	Metric string `yaml:"metric"`
}

// Field configures one unified field.
type Field struct {
	Name      string   `yaml:"-"`
	Policy    string   `yaml:"policy"`    // source_priority (default) | most_recent | least_recent | most_filled
	Order     []string `yaml:"order"`     // source order for source_priority; default unify.order
	Normalize string   `yaml:"normalize"` // standardiser for matching: text (default), name, first_name, email, phone, digits, exact, address, organization
	// Aliases is a CSV file of values that are always equal (canonical,
	// variant, …); Bypass a file of values that never match. Paths are
	// relative to the project folder.
	Aliases string `yaml:"aliases"`
	Bypass  string `yaml:"bypass"`
}

// Overrides are files of record-key pairs (CSV: left,right) a person edits to
// fix or force a merge. They win over every rule.
type Overrides struct {
	NeverMatch  string `yaml:"never_match"`
	AlwaysMatch string `yaml:"always_match"`
}
