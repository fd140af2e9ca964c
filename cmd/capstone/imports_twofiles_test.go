package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"strings"
	"testing"
)

// multipartFiles is a form with a part "file" for each of files, in order,
// and other fields at random places among them.
func multipartFiles(rng *rand.Rand, files ...[]byte) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i, f := range files {
		for range rng.IntN(2) {
			mw.WriteField(fmt.Sprint("note", i), "not a file")
		}
		fw, _ := mw.CreateFormFile("file", fmt.Sprintf("students%d.csv", i))
		fw.Write(f)
	}
	if rng.IntN(2) == 0 {
		mw.WriteField("after", "not a file either")
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// TestImportRefusesTwoFiles: a form with more than one part named "file",
// wherever they are among other fields, is refused whole with 400
// multiple-files, on /v1 (a dry run too) and on the original frontend's
// upload, and none of its files is imported; one file among other fields is
// imported as before.
func TestImportRefusesTwoFiles(t *testing.T) {
	s, lc := startLegacy(t)
	admin := s.admin()
	legacyAdmin, _ := lc.signIn(adminEmail, adminPassword)
	rng := rand.New(rand.NewPCG(rand.Uint64(), 23))
	const header = "Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username\n"
	file := func(round, i int) []byte {
		return []byte(header + fmt.Sprintf("ST%d%d,Two Files %d %d,,,,,two%d-%d@uni.example,\n", round, i, round, i, round, i))
	}
	for round := range 6 {
		files := make([][]byte, 2+rng.IntN(3))
		for i := range files {
			files[i] = file(round, i)
		}
		query := []string{"", "?dry_run=true"}[rng.IntN(2)]
		rd, ctype := multipartFiles(rng, files...)
		r := s.expect(s.do("POST", "/v1/imports/students"+query, admin, rd, "Content-Type", ctype), 400, "multiple-files")
		if !strings.Contains(r.str("detail"), "one file per request") {
			t.Fatalf("%d files: %s", len(files), r.Raw)
		}
		rd, ctype = multipartFiles(rng, files...)
		lr := lc.expect(lc.do("POST", "/student/info", legacyAdmin, rd, "Content-Type", ctype), 400)
		if !strings.Contains(lr.Raw, "one file per request") {
			t.Fatalf("original upload of %d files: %s", len(files), lr.Raw)
		}
	}
	stored := storedEvents(t, s)
	if strings.Contains(stored, "Two Files") {
		t.Fatal("a file of a form with two files was imported")
	}

	rd, ctype := multipartFiles(rng, file(9, 0))
	rep := s.expect(s.do("POST", "/v1/imports/students", admin, rd, "Content-Type", ctype), 200)
	if rep.num("created") != 1 {
		t.Fatalf("one file among other fields: %s", rep.Raw)
	}
}
