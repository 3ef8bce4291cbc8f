package build

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// fetchIndexes fetches the indexes of repos. A repository whose index no
// mirror has (a private mirror of main alone has no community) is left
// out with one warning, as apk-tools does: the world may resolve without
// it. The repositories left out are returned, for the solve's error.
func fetchIndexes(ctx context.Context, c *apk.Client, repos []apk.Repository) ([]*apk.Index, []apk.Repository, error) {
	indexes, err := c.FetchIndexes(ctx, repos)
	var missing *apk.MissingIndexError
	if !errors.As(err, &missing) {
		return indexes, nil, err
	}
	if len(missing.Indexes) == 0 {
		return nil, nil, err // nothing to resolve from
	}
	if c.Logger != nil {
		for _, r := range missing.Repositories {
			c.Logger.WarnContext(ctx, "repository index not found on any mirror; resolving without it", "repository", r.String())
		}
	}
	return missing.Indexes, missing.Repositories, nil
}

// withoutRepositories adds to a failed solve that repositories were left
// out for want of an index: the package asked for may be in them.
func withoutRepositories(err error, left []apk.Repository) error {
	if len(left) == 0 {
		return err
	}
	names := make([]string, len(left))
	for i, r := range left {
		names[i] = r.String()
	}
	return fmt.Errorf("%w; the index of %s was not found on any mirror", err, strings.Join(names, ", "))
}
