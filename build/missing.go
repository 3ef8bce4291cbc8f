package build

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// missingShown is how many missing names an error quotes: enough to
// recognise a wrong branch or mirror, few enough for one line.
const missingShown = 5

// missingError is a solve that failed only because names are in none of
// the repositories. apk's report gives each its own three lines; joined
// into the one line a person reads, 50 of them made 3.9 KB.
type missingError struct {
	names []string
	err   *apk.SolveError
}

// missingPackages is err, shortened when it is a missingError.
func missingPackages(err error) error {
	var se *apk.SolveError
	if errors.As(err, &se) {
		if names := se.MissingNames(); len(names) > 0 {
			return &missingError{names, se}
		}
	}
	return err
}

func (e *missingError) Error() string {
	quoted := make([]string, 0, missingShown)
	for _, n := range e.names[:min(len(e.names), missingShown)] {
		quoted = append(quoted, strconv.Quote(n))
	}
	list := strings.Join(quoted, ", ")
	if more := len(e.names) - len(quoted); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	what := "package"
	if len(e.names) > 1 {
		what = fmt.Sprintf("%d packages", len(e.names))
	}
	return fmt.Sprintf("%s in none of the repositories: %s (wrong Options.Mirrors or Options.Branch?)", what, list)
}

func (e *missingError) Unwrap() error { return e.err }
