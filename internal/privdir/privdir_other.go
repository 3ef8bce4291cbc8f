//go:build !unix

package privdir

import (
	"io/fs"
	"os"
)

// Without Unix owners and modes there is nothing to check: the cache is
// as private as the user's profile directory it lives in.

func OwnedByMe(fs.FileInfo) bool { return true }

func checkAncestor(string, string, fs.FileInfo, bool) error { return nil }
func checkDir(string, fs.FileInfo) error                    { return nil }
func checkFile(string, fs.FileInfo) error                   { return nil }

func openNoFollow(path string) (*os.File, error) { return os.Open(path) }
