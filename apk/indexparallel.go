package apk

import (
	"bytes"
	"errors"
	"runtime"
	"sync"
)

// parallelIndexMin is the smallest APKINDEX text worth splitting: a real
// main index is 2–3 MB and parsing it is about half of reading one.
const parallelIndexMin = 256 << 10

// parseIndexText parses APKINDEX text held in memory. Large texts are cut
// at record boundaries (blank lines) into one part per CPU, parsed at the
// same time and joined in order; line numbers in errors are the whole
// text's, and the error reported is the first in the text.
func parseIndexText(b []byte) ([]*Package, error) {
	parts := runtime.GOMAXPROCS(0)
	if parts < 2 || len(b) < parallelIndexMin {
		return ParseIndex(bytes.NewReader(b))
	}
	type result struct {
		pkgs []*Package
		err  error
	}
	var chunks [][]byte
	var firstLines []int
	line := 0
	for start := 0; start < len(b); {
		end := len(b)
		if len(chunks) < parts-1 {
			if i := bytes.Index(b[min(start+len(b)/parts, len(b)):], []byte("\n\n")); i >= 0 {
				end = min(start+len(b)/parts, len(b)) + i + 2
			}
		}
		chunks = append(chunks, b[start:end])
		firstLines = append(firstLines, line)
		line += bytes.Count(b[start:end], []byte("\n"))
		start = end
	}
	results := make([]result, len(chunks))
	var wg sync.WaitGroup
	for i, c := range chunks {
		wg.Go(func() {
			pkgs, err := ParseIndex(bytes.NewReader(c))
			var ie *IndexError
			if errors.As(err, &ie) {
				ie.Line += firstLines[i]
			}
			results[i] = result{pkgs, err}
		})
	}
	wg.Wait()
	var pkgs []*Package
	for _, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		pkgs = append(pkgs, r.pkgs...)
	}
	return pkgs, nil
}
