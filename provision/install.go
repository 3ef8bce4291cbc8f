package provision

import (
	"context"
	"errors"
)

func provision(ctx context.Context, opts Options) (*Result, error) {
	return nil, errors.New("provision: not implemented yet")
}
