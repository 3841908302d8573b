package demo

import (
	"bufio"
	"os"

	"github.com/knit-cdp/knit"
)

// csvFile is a buffered output file. Rows are built by appending into a
// reused byte slice, never with fmt per field: millions of rows must be
// written in seconds. Values are chosen never to contain a comma, a quote
// or a line break, so no field needs quoting.
type csvFile struct {
	path  string
	f     *os.File
	w     *bufio.Writer
	bytes int64
	err   error // the first write error; later writes are skipped
}

func createCSV(path, header string) (*csvFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, knit.Wrap(knit.EINTERNAL, err, "cannot create %s", path)
	}
	c := &csvFile{path: path, f: f, w: bufio.NewWriterSize(f, 1<<20)}
	c.write([]byte(header + "\n"))
	return c, nil
}

func (c *csvFile) write(row []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(row)
	c.bytes += int64(n)
	if err != nil {
		c.err = knit.Wrap(knit.EINTERNAL, err, "cannot write %s", c.path)
	}
}

// close flushes and closes the file and returns the first error met.
func (c *csvFile) close() error {
	if err := c.w.Flush(); err != nil && c.err == nil {
		c.err = knit.Wrap(knit.EINTERNAL, err, "cannot write %s", c.path)
	}
	if err := c.f.Close(); err != nil && c.err == nil {
		c.err = knit.Wrap(knit.EINTERNAL, err, "cannot close %s", c.path)
	}
	return c.err
}

// closeAll closes every file, returning the first error.
func closeAll(files ...*csvFile) error {
	var first error
	for _, c := range files {
		if c == nil {
			continue
		}
		if err := c.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// identSet counts distinct identifiers by a 64-bit hash of type and
// standardised value: exact enough for a statistic (a collision among a few
// million values is about one in a million) at a fraction of the memory of
// a set of strings.
type identSet map[uint64]struct{}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// addEmail counts an email lower-cased; junk and empty values are skipped.
func (s identSet) addEmail(v string) {
	if isJunk(v) {
		return
	}
	h := uint64(fnvOffset)
	h = (h ^ 'e') * fnvPrime
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		h = (h ^ uint64(c)) * fnvPrime
	}
	s[h] = struct{}{}
}

// addPhone counts a phone by its ten national digits.
func (s identSet) addPhone(p phone) {
	if p == junkPhone {
		return
	}
	h := uint64(fnvOffset)
	h = (h ^ 'p') * fnvPrime
	for _, c := range p {
		h = (h ^ uint64(c)) * fnvPrime
	}
	s[h] = struct{}{}
}

var junkPhone = phone{'0', '0', '0', '0', '0', '0', '0', '0', '0', '0'}

// junkValues are the placeholders people and systems type when they have
// no real value; knit's guards should block them.
var junkEmails = []string{"test@test.com", "N/A", "", "none@none.com"}

func isJunk(v string) bool {
	for _, j := range junkEmails {
		if v == j {
			return true
		}
	}
	return false
}
