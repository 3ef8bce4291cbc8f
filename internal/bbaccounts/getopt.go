package bbaccounts

import (
	"fmt"
	"strings"
)

// optionSpec describes an applet's options for getopt: short is a getopt
// optstring ("h:g:S": a letter, then ':' if it takes an argument), long maps
// long names to their letters.
type optionSpec struct {
	short string
	long  map[string]byte
}

func (s optionSpec) takesArg(c byte) (known, arg bool) {
	i := strings.IndexByte(s.short, c)
	if c == ':' || i < 0 {
		return false, false
	}
	return true, i+1 < len(s.short) && s.short[i+1] == ':'
}

// getopt reads args as busybox's getopt32 does over musl's getopt_long:
// options may come after operands (musl permutes), "--" ends them, short
// options cluster and take their argument attached or as the next word,
// long options match a unique prefix and take "=VALUE" or the next word.
// A repeated option keeps its last value.
func getopt(args []string, spec optionSpec) (map[byte]string, []string, error) {
	opts := map[byte]string{}
	var operands []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			return opts, append(operands, args[i+1:]...), nil
		case strings.HasPrefix(arg, "--"):
			name, val, hasVal := strings.Cut(arg[2:], "=")
			c, full, err := spec.longOption(name)
			if err != nil {
				return nil, nil, err
			}
			_, takes := spec.takesArg(c)
			switch {
			case takes && !hasVal:
				if i+1 >= len(args) {
					return nil, nil, fmt.Errorf("%w: option '--%s' requires an argument", ErrUsage, full)
				}
				i++
				val = args[i]
			case !takes && hasVal:
				return nil, nil, fmt.Errorf("%w: option '--%s' doesn't allow an argument", ErrUsage, full)
			}
			opts[c] = val
		case len(arg) > 1 && arg[0] == '-':
			for j := 1; j < len(arg); j++ {
				c := arg[j]
				known, takes := spec.takesArg(c)
				if !known {
					return nil, nil, fmt.Errorf("%w: unrecognized option: %q", ErrUsage, []byte{'-', c})
				}
				if !takes {
					opts[c] = ""
					continue
				}
				val := arg[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return nil, nil, fmt.Errorf("%w: option requires an argument: -%c", ErrUsage, c)
					}
					i++
					val = args[i]
				}
				opts[c] = val
				break
			}
		default:
			operands = append(operands, arg)
		}
	}
	return opts, operands, nil
}

func (s optionSpec) longOption(name string) (byte, string, error) {
	if c, ok := s.long[name]; ok {
		return c, name, nil
	}
	var match string
	n := 0
	for full := range s.long {
		if strings.HasPrefix(full, name) && name != "" {
			match = full
			n++
		}
	}
	switch n {
	case 0:
		return 0, "", fmt.Errorf("%w: unrecognized option: %q", ErrUsage, "--"+name)
	case 1:
		return s.long[match], match, nil
	}
	return 0, "", fmt.Errorf("%w: option is ambiguous: %q", ErrUsage, "--"+name)
}
