package demo

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"

	"github.com/knit-cdp/knit"
)

// GeneratePeople writes n person records to one CSV at path
// (id,first_name,last_name,dob,email,phone,zip,city,cluster) for fuzzy
// deduplication benchmarks. Records of one real person share a cluster,
// the ground truth. As in Febrl, each original may have duplicates carrying
// typos, swapped first and last names, missing fields, nicknames, date of
// birth transpositions, other email and phone formats. Rows are shuffled
// within blocks of 65,536 so that duplicates are not adjacent in the file.
func GeneratePeople(path string, n int, seed int64) error {
	if n < 1 {
		return knit.Errorf(knit.EINVALID, "person records: n is %d, give at least 1", n)
	}
	out, err := createCSV(path, peopleHeader)
	if err != nil {
		return err
	}
	var st Stats
	writePeople(out, nil, n, seed, &st)
	return out.close()
}

const peopleHeader = "id,first_name,last_name,dob,email,phone,zip,city,cluster"

// peopleConfig is a dedupe project over the person records: exact rules on
// the strong identifiers, fuzzy ones on names with a second field.
const peopleConfig = generatedMark + ` for fuzzy deduplication of person records.
# truth.csv (and the cluster column, which knit does not read) is the ground truth.
sources:
  people:
    file: data/people.csv
    primary_key: id
    identifiers: {email: email, phone: phone}
    attributes: {first_name: person.first_name, last_name: person.last_name, dob: person.birth_date, zip: address.zip, city: address.city}

identifiers:
  email: {normalize: email}
  phone: {normalize: phone, default_region: US}

unify:
  include_all_records: [people]
  dedupe:
    people:
      winner: most_filled
      rules:
        - name: same email
          conditions: [{field: email}]
        - name: similar name and same birth date
          conditions:
            - {field: person.last_name, precision: high, metric: jaro_winkler}
            - {field: person.first_name, precision: medium, metric: jaro_winkler}
            - {field: person.birth_date}
        - name: same last name and phone
          conditions: [{field: person.last_name, precision: high}, {field: phone}]
        - name: similar name and same zip
          conditions:
            - {field: person.last_name, precision: high, metric: jaro_winkler}
            - {field: person.first_name, precision: high, metric: jaro_winkler}
            - {field: address.zip}

fields:
  person.first_name: {normalize: name}
  person.last_name: {normalize: name}
`

func generatePeopleProject(dir string, opt Options) (Stats, error) {
	var st Stats
	if err := writeSmallFile(filepath.Join(dir, "knit.yaml"), peopleConfig, &st); err != nil {
		return Stats{}, err
	}
	out, err := createCSV(filepath.Join(dir, "data", "people.csv"), peopleHeader)
	if err != nil {
		return Stats{}, err
	}
	truth, err := createCSV(filepath.Join(dir, "truth.csv"), "record_key,person_id")
	if err != nil {
		out.close()
		return Stats{}, err
	}
	writePeople(out, truth, opt.PersonRecords, opt.Seed, &st)
	err = closeAll(out, truth)
	st.Bytes += out.bytes + truth.bytes
	// Remove a coffee project's files left from an earlier run in the same
	// folder, so the folder holds one consistent project.
	for _, stale := range []string{"data/loyalty.csv", "data/ecommerce.csv", "data/web_events.csv", "data/pos.csv"} {
		os.Remove(filepath.Join(dir, stale))
	}
	return st, err
}

// shuffleBlock is how many rows are shuffled together: enough to scatter a
// cluster's records, small enough to keep memory flat at any size.
const shuffleBlock = 1 << 16

// original is the true person behind a cluster.
type original struct {
	first, last string
	dob         [3]int // year, month, day
	email       string
	phone       phone
	zip         int
	city        string
}

type peopleGen struct {
	r     rng
	first zipf
	last  zipf
	city  zipf
	dom   zipf
	ids   identSet
}

// writePeople writes n records; truth, when not nil, gets people/<id> →
// cluster rows.
func writePeople(out, truth *csvFile, n int, seed int64, st *Stats) {
	g := &peopleGen{
		r:     newRNG(seed, 2),
		first: newZipf(len(firstNames), 0.9),
		last:  newZipf(len(lastNames), 0.9),
		city:  newZipf(len(cities), 1.1),
		dom:   newZipf(len(emailDomains), 1.2),
		ids:   identSet{},
	}
	var (
		buf     []byte // encoded rows of the current block, without id
		ends    []int  // end offset of each row in buf
		order   []int  // permutation of the block
		written int64  // rows written so far: the next id
		cluster int64  // clusters started so far
		line    []byte // one output line
		emails  = identSet{}
	)
	flush := func() {
		order = order[:0]
		for i := range ends {
			order = append(order, i)
		}
		g.r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			start := 0
			if i > 0 {
				start = ends[i-1]
			}
			row := buf[start:ends[i]]
			written++
			line = append(line[:0], 'r')
			line = strconv.AppendInt(line, written, 10)
			line = append(line, ',')
			line = append(line, row...)
			out.write(line)
			if truth != nil {
				comma := bytes.LastIndexByte(row, ',')
				line = append(line[:0], "people/r"...)
				line = strconv.AppendInt(line, written, 10)
				line = append(line, ',')
				line = append(line, row[comma+1:]...)
				truth.write(line)
				st.TruthRows++
			}
		}
		buf, ends = buf[:0], ends[:0]
	}
	for total := 0; total < n; {
		cluster++
		o := g.newOriginal(emails)
		copies := 1 + g.duplicates()
		for c := 0; c < copies && total < n; c++ {
			rec := *o
			if c > 0 {
				g.corrupt(&rec)
			} else if g.r.chance(0.03) {
				g.blank(&rec) // originals are not perfect either
			}
			buf = g.appendRecord(buf, &rec, cluster)
			ends = append(ends, len(buf))
			total++
			if len(ends) == shuffleBlock {
				flush()
			}
		}
	}
	flush()
	st.People = cluster
	st.Customers = cluster
	st.PersonRecords = written
	st.DistinctIdentifiers = int64(len(g.ids))
}

// duplicates draws how many corrupted copies an original gets: half have
// none, a few have four, as in Febrl's Zipf-like duplicate distribution.
func (g *peopleGen) duplicates() int {
	u := g.r.Float64()
	switch {
	case u < 0.5:
		return 0
	case u < 0.75:
		return 1
	case u < 0.88:
		return 2
	case u < 0.95:
		return 3
	default:
		return 4
	}
}

func (g *peopleGen) newOriginal(emails identSet) *original {
	o := &original{
		first: firstNames[g.first.sample(g.r)],
		last:  lastNames[g.last.sample(g.r)],
	}
	c := &cities[g.city.sample(g.r)]
	o.city = c.name
	o.zip = c.zip + g.r.IntN(40)
	o.phone = newPhone(g.r, pick(g.r, c.areaCodes))
	o.dob = [3]int{1940 + g.r.IntN(66), 1 + g.r.IntN(12), 1 + g.r.IntN(28)}
	local := emailLocal(g.r, o.first, o.last)
	for {
		o.email = local + "@" + emailDomains[g.dom.sample(g.r)]
		before := len(emails)
		emails.addEmail(o.email)
		if len(emails) > before {
			break
		}
		local += strconv.Itoa(g.r.IntN(10))
	}
	return o
}

// corrupt applies one to three Febrl-style modifications.
func (g *peopleGen) corrupt(rec *original) {
	for range 1 + g.r.IntN(3) {
		switch g.r.IntN(12) {
		case 0, 1:
			rec.first = typo(g.r, rec.first)
		case 2, 3:
			rec.last = typo(g.r, rec.last)
		case 4:
			if nicks := nicknames[rec.first]; nicks != nil {
				rec.first = pick(g.r, nicks)
			} else {
				rec.first = asciiFold.Replace(rec.first)
			}
		case 5:
			rec.first, rec.last = rec.last, rec.first
		case 6:
			g.blank(rec)
		case 7:
			g.transposeDOB(rec)
		case 8:
			if rec.email != "" {
				rec.email = typoEmail(g.r, rec.email)
			}
		case 9:
			if rec.phone != (phone{}) {
				rec.phone[3+g.r.IntN(7)] = byte('0' + g.r.IntN(10))
			}
		case 10:
			if rec.zip == 0 {
				continue
			}
			zip := []byte(strconv.Itoa(rec.zip))
			zip[len(zip)-1-g.r.IntN(2)] = byte('0' + g.r.IntN(10))
			rec.zip, _ = strconv.Atoi(string(zip))
		default:
			if rec.email != "" && g.r.IntN(2) == 0 {
				rec.email = titleEmail(rec.email)
			} else {
				rec.city = typo(g.r, rec.city)
			}
		}
	}
}

// blank empties one field: forms leave things out.
func (g *peopleGen) blank(rec *original) {
	switch g.r.IntN(5) {
	case 0:
		rec.email = ""
	case 1:
		rec.phone = phone{}
	case 2:
		rec.dob = [3]int{}
	case 3:
		rec.zip = 0
	default:
		rec.city = ""
	}
}

// transposeDOB swaps day and month (US and European order confused) or
// two digits of the year, as clerks do.
func (g *peopleGen) transposeDOB(rec *original) {
	d := &rec.dob
	if d[0] == 0 {
		return
	}
	if d[2] <= 12 && d[2] != d[1] && g.r.IntN(2) == 0 {
		d[1], d[2] = d[2], d[1]
		return
	}
	// 1985 → 1958: the last two digits swapped.
	d[0] = d[0]/100*100 + d[0]%10*10 + d[0]/10%10
}

func (g *peopleGen) appendRecord(b []byte, rec *original, cluster int64) []byte {
	b = append(b, rec.first...)
	b = append(b, ',')
	b = append(b, rec.last...)
	b = append(b, ',')
	if rec.dob[0] != 0 {
		b = strconv.AppendInt(b, int64(rec.dob[0]), 10)
		b = append(b, '-')
		b = appendPad2(b, rec.dob[1])
		b = append(b, '-')
		b = appendPad2(b, rec.dob[2])
	}
	b = append(b, ',')
	if rec.email != "" {
		g.ids.addEmail(rec.email)
		b = append(b, rec.email...)
	}
	b = append(b, ',')
	if rec.phone != (phone{}) {
		g.ids.addPhone(rec.phone)
		b = appendPhone(b, rec.phone, g.r.IntN(phoneFormats))
	}
	b = append(b, ',')
	if rec.zip != 0 {
		b = strconv.AppendInt(b, int64(rec.zip), 10)
	}
	b = append(b, ',')
	b = append(b, rec.city...)
	b = append(b, ",c"...)
	b = strconv.AppendInt(b, cluster, 10)
	return append(b, '\n')
}
