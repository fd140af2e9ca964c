package api

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
)

// formFile is the part named "file" of a multipart upload. It is streamed to
// the parser rather than held, so the parts after it are read only once the
// file is: Import reads them before it applies anything, and refuses a form
// with a second "file" part, which would otherwise be dropped without a word.
type formFile struct {
	*multipart.Part
	rest *multipart.Reader
}

// FormFile is part, the "file" of the multipart form mr, as Import takes it:
// the form is refused when another part is named "file" too.
func FormFile(mr *multipart.Reader, part *multipart.Part) io.Reader {
	return &formFile{Part: part, rest: mr}
}

// onlyFile reads the rest of the form and refuses it when it holds another
// "file" part.
func (f *formFile) onlyFile() error {
	for {
		p, err := f.rest.NextPart()
		var tooLarge *http.MaxBytesError
		switch {
		case err == io.EOF:
			return nil
		case errors.As(err, &tooLarge):
			return problem(http.StatusRequestEntityTooLarge, "file-too-large", "CSV uploads are limited to 10 MiB")
		case err != nil:
			return problem(http.StatusBadRequest, "malformed-multipart", "the multipart body cannot be read")
		case p.FormName() == "file":
			return problem(http.StatusBadRequest, "multiple-files",
				`send one file per request: the form has more than one part named "file"; nothing was imported`)
		}
	}
}
