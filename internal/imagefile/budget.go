package imagefile

import (
	"fmt"
	"math"
)

// A stream that unpacks into an image (a pulled layer, a compressed image
// handed to ls or inspect) comes from outside: a few MB of zstd can claim
// terabytes. Zeros cost nothing (they are left as holes), so what is
// bounded is the data actually written: DiskBudget of the directory it
// goes to.

// DiskBudget is how many bytes of data a stream from outside may write
// under dir: nine tenths of what is free there now, so that a hostile one
// cannot fill the disk for everyone else. MaxInt64 where the system
// cannot tell.
func DiskBudget(dir string) int64 {
	free := freeBytes(dir)
	if free == math.MaxInt64 {
		return free
	}
	return free / 10 * 9
}

// BudgetError is the error of a stream that would write more data than
// its DiskBudget.
type BudgetError struct {
	Dir    string
	Budget int64
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("it unpacks to more than %d MiB of data, 9/10 of the space free in %q: refused", e.Budget>>20, e.Dir)
}
