package legacy

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// UI serves a built single-page app from dir (the frontend's build/): a
// file that exists as it is, and index.html for any other path, so that
// the app's own routes (/student/overview, ...) load the app, which then
// routes in the browser. The directory is read through an os.Root, which
// refuses names that leave it, symbolic links pointing outside it among
// them (os.DirFS followed those), and is never listed. It is opened for
// each request, so a build put in its place is served at once. index.html
// is not cached (it names the current bundle, whose files carry a hash).
func UI(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the pages are only read", http.StatusMethodNotAllowed)
			return
		}
		opened, err := os.OpenRoot(dir)
		if err != nil {
			http.Error(w, "the app's directory cannot be read", http.StatusNotFound)
			return
		}
		defer opened.Close()
		root := opened.FS()
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if info, err := fs.Stat(root, name); err == nil && info.Mode().IsRegular() && name != "index.html" {
			http.FileServerFS(root).ServeHTTP(w, r)
			return
		}
		serveIndex(w, r, root)
	})
}

// serveIndex answers the app's index.html.
func serveIndex(w http.ResponseWriter, r *http.Request, root fs.FS) {
	f, err := root.Open("index.html")
	if err != nil {
		http.Error(w, "the app has no index.html", http.StatusNotFound)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	rs, ok := f.(io.ReadSeeker)
	if err != nil || !ok {
		http.Error(w, "the app's index.html cannot be read", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	http.ServeContent(w, r, "index.html", info.ModTime(), rs)
}
