package csvio

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// header maps a file's columns to the kind's columns. Files come from
// different exports and hand edits, so columns are found by name, not
// position: case, surrounding spaces and doubled inner spaces do not matter,
// order does not matter, and unknown columns are ignored.
type header struct {
	width int            // number of cells in the header row
	index map[string]int // kind's column name -> position in a record
	names []string       // known column name per position, "" for ignored ones
}

func readHeader(cr *csv.Reader, kind Kind, cols columns) (header, error) {
	rec, err := cr.Read()
	var pe *csv.ParseError
	switch {
	case errors.Is(err, ErrTooLarge):
		return header{}, err
	case err == io.EOF:
		return header{}, fmt.Errorf("%w: it is empty, and the first row must be the header (%s)", ErrNotCSV, columnList(cols))
	case errors.As(err, &pe):
		return header{}, fmt.Errorf("%w: the header row is malformed at line %d: %v", ErrNotCSV, pe.Line, pe.Err)
	case err != nil:
		return header{}, fmt.Errorf("reading the header row: %w", err)
	}
	for _, cell := range rec {
		if !utf8.ValidString(cell) {
			return header{}, fmt.Errorf(`%w: the header row is not valid UTF-8; save the file as "CSV UTF-8"`, ErrNotCSV)
		}
	}

	want := make(map[string]string, len(cols))
	for _, c := range cols {
		want[normalizeName(c.name)] = c.name
	}
	h := header{width: len(rec), index: make(map[string]int, len(cols)), names: make([]string, len(rec))}
	for i, cell := range rec {
		name, known := want[normalizeName(cell)]
		if !known {
			continue
		}
		if first, dup := h.index[name]; dup {
			return header{}, fmt.Errorf("%w: column %q appears twice (columns %d and %d)", ErrHeader, name, first+1, i+1)
		}
		h.index[name] = i
		h.names[i] = name
	}

	var missing []string
	for _, c := range cols {
		if _, ok := h.index[c.name]; !ok && !c.optional {
			missing = append(missing, fmt.Sprintf("%q", c.name))
		}
	}
	if len(missing) == 0 {
		return h, nil
	}
	noun := "column"
	if len(missing) > 1 {
		noun = "columns"
	}
	detail := fmt.Sprintf("missing %s %s; the %s file needs %s", noun, strings.Join(missing, ", "), kind, columnList(cols))
	if len(rec) == 1 && strings.Contains(rec[0], ";") {
		detail += `; the file seems to be separated by semicolons: save it as "CSV UTF-8 (comma delimited)"`
	}
	return header{}, fmt.Errorf("%w: %s", ErrHeader, detail)
}

// columnName names position i of a record for a message: the kind's column
// name, or its position for a column the kind ignores.
func (h header) columnName(i int) string {
	if i < len(h.names) && h.names[i] != "" {
		return h.names[i]
	}
	return fmt.Sprintf("Column %d", i+1)
}

func normalizeName(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(trim(s))), " ")
}

func columnList(cols columns) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
		if c.optional {
			names[i] += " (optional)"
		}
	}
	return strings.Join(names, ", ")
}
