package evaluate

import (
	"encoding/csv"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/knit-cdp/knit"
)

// LoadOption adjusts how LoadTruth reads its file.
type LoadOption func(*loadOptions)

type loadOptions struct {
	comma rune
}

// WithDelimiter reads a file whose fields are separated by r (default ',').
func WithDelimiter(r rune) LoadOption { return func(o *loadOptions) { o.comma = r } }

// LoadTruth reads ground truth from a CSV file with a header row: keyCol
// holds the record key, entityCol the entity it belongs to. A key may
// appear more than once only with the same entity. Errors name the file and
// line; a missing column lists the columns there are.
func LoadTruth(path, keyCol, entityCol string, opts ...LoadOption) (map[string]string, error) {
	o := loadOptions{comma: ','}
	for _, opt := range opts {
		opt(&o)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, knit.Errorf(knit.ENOTFOUND, "ground truth %s not found", path)
	}
	if err != nil {
		return nil, knit.Wrap(knit.EINTERNAL, err, "open ground truth %s", path)
	}
	defer f.Close()

	r := csv.NewReader(f)
	r.Comma = o.comma
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, knit.Errorf(knit.EINVALID, "%s: the file is empty; want a header row naming %q and %q", path, keyCol, entityCol)
	}
	if err != nil {
		return nil, csvError(path, err)
	}
	keyAt, entityAt := -1, -1
	for i, name := range header {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")) // tolerate a UTF-8 byte-order mark
		switch name {
		case keyCol:
			keyAt = i
		case entityCol:
			entityAt = i
		}
	}
	for _, col := range []struct {
		name string
		at   int
	}{{keyCol, keyAt}, {entityCol, entityAt}} {
		if col.at < 0 {
			return nil, knit.Errorf(knit.EINVALID, "%s:1: no column %q; the columns are %s", path, col.name, strings.Join(header, ", "))
		}
	}

	truth := map[string]string{}
	firstLine := map[string]int{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(path, err)
		}
		line, _ := r.FieldPos(0)
		key, entity := strings.TrimSpace(rec[keyAt]), strings.TrimSpace(rec[entityAt])
		if key == "" {
			return nil, knit.Errorf(knit.EINVALID, "%s:%d: empty %s; every row needs a record key", path, line, keyCol)
		}
		if entity == "" {
			return nil, knit.Errorf(knit.EINVALID, "%s:%d: record %q has an empty %s; give every record an entity (a record alone gets an entity of its own)", path, line, key, entityCol)
		}
		if prev, dup := truth[key]; dup && prev != entity {
			return nil, knit.Errorf(knit.EINVALID, "%s:%d: record %q is in entity %q here but in %q on line %d; a record belongs to one entity", path, line, key, entity, prev, firstLine[key])
		}
		if _, dup := truth[key]; !dup {
			firstLine[key] = line
		}
		truth[key] = entity
	}
	return truth, nil
}

// csvError gives a CSV parse error the file:line: shape.
func csvError(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return knit.Errorf(knit.EINVALID, "%s:%d:%d: %v", path, pe.Line, pe.Column, pe.Err)
	}
	return knit.Wrap(knit.EINVALID, err, "%s", path)
}
