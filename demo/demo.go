// Package demo generates realistic synthetic versions of knit's examples at
// any size, with ground truth, for benchmarks and accuracy tests.
//
// Generate writes a project folder with the shape of examples/coffee (the
// same sources, columns, formats, identifier mapping and rules, so the same
// pipeline runs on it) and a truth.csv naming the real person behind every
// record key. With Dataset "people" it writes instead one file of person
// records with Febrl-like corruption for fuzzy deduplication.
//
// Output depends only on the options: the same seed gives byte-identical
// files, so a benchmark or an accuracy figure can be reproduced exactly.
package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/knit-cdp/knit"
)

// Datasets Generate can write.
const (
	Coffee = "coffee" // the coffee chain of examples/coffee
	People = "people" // person records for fuzzy deduplication
)

// Options size and shape a generated dataset. Every share and rate left at
// zero takes the default given in its comment; a negative value means none.
type Options struct {
	Dataset   string // Coffee (the default) or People
	Customers int    // real people who are customers (coffee); for People with PersonRecords 0, records = 2 × Customers
	Seed      int64  // the same seed gives byte-identical output from the same build

	LoyaltyShare       float64 // 0.6: customers in the loyalty programme
	EcommerceShare     float64 // 0.45: customers with an e-commerce account
	WebShare           float64 // 0.6: customers who browse the website (customers in neither programme always do)
	DevicesPerVisitor  float64 // 1.5: mean browsers/devices per web visitor, at least one
	EventsPerDevice    float64 // 5: mean web events per device, at least one
	SignInShare        float64 // 0.75: a member's devices on which they sign in with their loyalty ID
	AnonymousVisitors  float64 // 0.2: visitors who never become customers, per customer
	POSPerMember       float64 // 3: mean point-of-sale transactions per loyalty member
	WalkInShare        float64 // 0.08: customers who also pay with a store's walk-in card 9999, giving a receipt email
	DuplicateEnrolment float64 // 0.03: members enrolled twice (same email, a second LoyaltyID)
	HouseholdShare     float64 // 0.15: customers who live with another customer (same city, usually same last name)
	SharedDeviceShare  float64 // 0.3: households whose second member signs in on the first member's device
	SharedPhoneShare   float64 // 0.3: households whose members both give the home phone
	OtherEmailShare    float64 // 0.2: e-commerce accounts opened with another email than the loyalty one
	NicknameShare      float64 // 0.15: rows giving a nickname (Bob for Robert) where the name has one
	TypoRate           float64 // 0.02: typos per name or email value
	JunkRate           float64 // 0.005: junk values (test@test.com, 0000000000, N/A, empty) per identifier value

	PersonRecords int // people: the number of records to write (duplicates included)
}

// Defaults are the options Generate uses for fields left at zero.
var Defaults = Options{
	Dataset:            Coffee,
	LoyaltyShare:       0.6,
	EcommerceShare:     0.45,
	WebShare:           0.6,
	DevicesPerVisitor:  1.5,
	EventsPerDevice:    5,
	SignInShare:        0.75,
	AnonymousVisitors:  0.2,
	POSPerMember:       3,
	WalkInShare:        0.08,
	DuplicateEnrolment: 0.03,
	HouseholdShare:     0.15,
	SharedDeviceShare:  0.3,
	SharedPhoneShare:   0.3,
	OtherEmailShare:    0.2,
	NicknameShare:      0.15,
	TypoRate:           0.02,
	JunkRate:           0.005,
}

// Stats counts what Generate wrote.
type Stats struct {
	People    int64 // real people: customers plus anonymous-only visitors (coffee), clusters (people)
	Customers int64 // Options.Customers (coffee), clusters (people)

	LoyaltyRows   int64
	EcommerceRows int64
	WebEvents     int64
	POSRows       int64
	PersonRecords int64 // people dataset rows

	WebVisitors         int64 // distinct web UserIDs (one per device)
	DuplicateEnrolments int64 // second LoyaltyIDs of the same person
	SharedDevices       int64 // devices two household members signed in on
	WalkInRows          int64 // POS rows on the walk-in card 9999

	// DistinctIdentifiers counts distinct type:value identifiers after
	// simple standardisation (emails lower-cased, phones as ten digits),
	// junk values excluded.
	DistinctIdentifiers int64
	TruthRows           int64 // rows of truth.csv: one per record key
	Bytes               int64 // bytes written over all files
}

// Rows is the number of data rows over all sources.
func (s Stats) Rows() int64 {
	return s.LoyaltyRows + s.EcommerceRows + s.WebEvents + s.POSRows + s.PersonRecords
}

// Preset returns the options of a named workload:
//
//   - "small": 1,000 customers, for tests and a first look;
//   - "unify-1m": deterministic unification at benchmark scale: about
//     1,000,000 loyalty and e-commerce records, 5,000,000 web and POS
//     events and 3,000,000 distinct identifiers;
//   - "activities-50m": 1,000,000 customers and about 50,000,000 web and
//     POS events;
//   - "people-1m": 1,000,000 person records with fuzzy errors for
//     deduplication.
func Preset(name string) (Options, error) {
	o := Defaults
	o.Seed = 1
	switch name {
	case "small":
		o.Customers = 1000
	case "unify-1m":
		// Tuned by measurement (docs/demo-data.md): 1.0M profile records,
		// 5.0M events, 3.0M identifiers.
		o.Customers = 800_000
		o.LoyaltyShare = 0.7
		o.EcommerceShare = 0.53
		o.WebShare = 0.5
		o.DevicesPerVisitor = 1.25
		o.AnonymousVisitors = 0.1
		o.OtherEmailShare = 0.1
		o.EventsPerDevice = 5.2
		o.POSPerMember = 2.45
	case "activities-50m":
		o.Customers = 1_000_000
		o.EventsPerDevice = 26
		o.POSPerMember = 25
	case "people-1m":
		o.Dataset = People
		o.PersonRecords = 1_000_000
	default:
		return Options{}, knit.Errorf(knit.EINVALID, "unknown demo data preset %q: use one of %s", name, strings.Join(PresetNames, ", "))
	}
	return o, nil
}

// PresetNames lists the names Preset accepts.
var PresetNames = []string{"small", "unify-1m", "activities-50m", "people-1m"}

// withDefaults fills zero fields from Defaults and turns negative ones into
// zero, then checks ranges.
func (o Options) withDefaults() (Options, error) {
	if o.Dataset == "" {
		o.Dataset = Defaults.Dataset
	}
	if o.Dataset != Coffee && o.Dataset != People {
		return o, knit.Errorf(knit.EINVALID, "demo data set %q is unknown: use %q or %q", o.Dataset, Coffee, People)
	}
	if o.Dataset == People && o.PersonRecords == 0 && o.Customers > 0 {
		o.PersonRecords = o.Customers * 2 // about one duplicate per person
	}
	size := o.Customers
	if o.Dataset == People {
		size = o.PersonRecords
	}
	if size < 1 {
		return o, knit.Errorf(knit.EINVALID, "demo data size is %d: give at least 1 (customers, or person records for %q)", size, People)
	}
	for _, f := range o.rateFields() {
		switch {
		case *f.v == 0:
			*f.v = f.def
		case *f.v < 0:
			*f.v = 0
		}
		if f.share && *f.v > 1 {
			return o, knit.Errorf(knit.EINVALID, "demo option %s is %g: a share must be between 0 and 1", f.name, *f.v)
		}
	}
	return o, nil
}

type rateField struct {
	name  string
	v     *float64
	def   float64
	share bool // a share in [0,1] rather than a mean count
}

func (o *Options) rateFields() []rateField {
	d := Defaults
	return []rateField{
		{"LoyaltyShare", &o.LoyaltyShare, d.LoyaltyShare, true},
		{"EcommerceShare", &o.EcommerceShare, d.EcommerceShare, true},
		{"WebShare", &o.WebShare, d.WebShare, true},
		{"DevicesPerVisitor", &o.DevicesPerVisitor, d.DevicesPerVisitor, false},
		{"EventsPerDevice", &o.EventsPerDevice, d.EventsPerDevice, false},
		{"SignInShare", &o.SignInShare, d.SignInShare, true},
		{"AnonymousVisitors", &o.AnonymousVisitors, d.AnonymousVisitors, false},
		{"POSPerMember", &o.POSPerMember, d.POSPerMember, false},
		{"WalkInShare", &o.WalkInShare, d.WalkInShare, true},
		{"DuplicateEnrolment", &o.DuplicateEnrolment, d.DuplicateEnrolment, true},
		{"HouseholdShare", &o.HouseholdShare, d.HouseholdShare, true},
		{"SharedDeviceShare", &o.SharedDeviceShare, d.SharedDeviceShare, true},
		{"SharedPhoneShare", &o.SharedPhoneShare, d.SharedPhoneShare, true},
		{"OtherEmailShare", &o.OtherEmailShare, d.OtherEmailShare, true},
		{"NicknameShare", &o.NicknameShare, d.NicknameShare, true},
		{"TypoRate", &o.TypoRate, d.TypoRate, true},
		{"JunkRate", &o.JunkRate, d.JunkRate, true},
	}
}

// generatedMark opens every knit.yaml Generate writes; Generate overwrites
// a folder only when its knit.yaml carries it, so a real project is never
// clobbered.
const generatedMark = "# Generated by knit demo data"

// Generate writes a complete project folder at dir: knit.yaml, the data
// files under data/, empty override files under overrides/, and truth.csv
// (record_key,person_id) mapping every record key knit builds — source/
// primary key for profile sources, source/visitor key for event sources —
// to the real person behind it. See docs/demo-data.md.
func Generate(dir string, opt Options) (Stats, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	if err := prepareDir(dir); err != nil {
		return Stats{}, err
	}
	if opt.Dataset == People {
		return generatePeopleProject(dir, opt)
	}
	return generateCoffee(dir, opt)
}

// prepareDir creates dir, data/ and overrides/, refusing a folder that holds
// a project Generate did not write.
func prepareDir(dir string) error {
	cfg := filepath.Join(dir, "knit.yaml")
	if b, err := os.ReadFile(cfg); err == nil && !strings.HasPrefix(string(b), generatedMark) {
		return knit.Errorf(knit.EINVALID, "%s holds a knit project that demo data did not generate: give a new or empty folder", dir)
	}
	for _, sub := range []string{"data", "overrides"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return knit.Wrap(knit.EINTERNAL, err, "cannot create the demo project folder %s", dir)
		}
	}
	return nil
}

func writeSmallFile(path, content string, st *Stats) error {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return knit.Wrap(knit.EINTERNAL, err, "cannot write %s", path)
	}
	st.Bytes += int64(len(content))
	return nil
}

// String summarises the counts for a command line.
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "people %d, customers %d\n", s.People, s.Customers)
	if s.PersonRecords > 0 {
		fmt.Fprintf(&b, "person records %d\n", s.PersonRecords)
	} else {
		fmt.Fprintf(&b, "loyalty %d (duplicate enrolments %d), e-commerce %d, web events %d (visitors %d, shared devices %d), POS %d (walk-in %d)\n",
			s.LoyaltyRows, s.DuplicateEnrolments, s.EcommerceRows, s.WebEvents, s.WebVisitors, s.SharedDevices, s.POSRows, s.WalkInRows)
	}
	fmt.Fprintf(&b, "distinct identifiers %d, truth rows %d, %.1f MB", s.DistinctIdentifiers, s.TruthRows, float64(s.Bytes)/1e6)
	return b.String()
}
