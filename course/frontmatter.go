package course

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with the content, at a place in a file.
type Problem struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
	Msg  string `json:"message"`
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
}

// Problems is a list of problems, sorted by file and place.
type Problems []Problem

func (ps *Problems) add(file string, line, col int, format string, args ...any) {
	if line < 1 {
		line = 1
	}
	if col < 1 {
		col = 1
	}
	*ps = append(*ps, Problem{File: file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

func (ps Problems) sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Col < ps[j].Col
	})
}

// Error joins the problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// SplitFrontmatter separates a Markdown file into its YAML frontmatter
// (between two lines of ---) and its body. bodyLine is the 1-based line of
// the file where the body starts. A file without frontmatter is an error.
func SplitFrontmatter(src []byte) (front, body []byte, bodyLine int, err error) {
	src = bytes.TrimPrefix(src, []byte("\ufeff"))
	if !bytes.HasPrefix(src, []byte("---\n")) && !bytes.HasPrefix(src, []byte("---\r\n")) {
		return nil, nil, 0, fmt.Errorf("the file must start with a frontmatter block: a line of ---, YAML keys, and another line of ---")
	}
	first := bytes.IndexByte(src, '\n') + 1
	rest := src[first:]
	line := 2
	for off := 0; off <= len(rest); {
		end := bytes.IndexByte(rest[off:], '\n')
		var l []byte
		if end < 0 {
			l = rest[off:]
		} else {
			l = rest[off : off+end]
		}
		if string(bytes.TrimRight(l, " \t\r")) == "---" {
			front = rest[:off]
			if end < 0 {
				return front, nil, line + 1, nil
			}
			return front, rest[off+end+1:], line + 1, nil
		}
		if end < 0 {
			break
		}
		off += end + 1
		line++
	}
	return nil, nil, 0, fmt.Errorf("the frontmatter block is not closed with a line of ---")
}

var yamlLineRE = regexp.MustCompile(`line (\d+)(?:, column (\d+))?: `)

// decodeStrict decodes YAML into out and reports, with lines and columns
// in the file (firstLine is the file line of the YAML's first line):
// syntax errors, unknown keys at any depth, missing required keys (struct
// tag req:"1") and values of the wrong type.
func decodeStrict(file string, data []byte, firstLine int, out any) Problems {
	var ps Problems
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		line, col, msg := yamlErrPos(err.Error())
		ps.add(file, firstLine+line-1, col, "YAML: %s", msg)
		return ps
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind == 0 || (doc.Kind == yaml.ScalarNode && doc.Tag == "!!null") {
		doc = &yaml.Node{Kind: yaml.MappingNode, Line: 1, Column: 1}
	}
	checkKeys(file, firstLine, doc, reflect.TypeOf(out), &ps)
	// Decode even after key problems, so that wrong types and the values
	// other checks need are reported in the same run.
	if err := doc.Decode(out); err != nil {
		for _, m := range strings.Split(err.Error(), "\n") {
			m = strings.TrimSpace(strings.TrimPrefix(m, "yaml: unmarshal errors:"))
			if m == "" {
				continue
			}
			line, col, msg := yamlErrPos(m)
			ps.add(file, firstLine+line-1, col, "%s", msg)
		}
	}
	return ps
}

func yamlErrPos(s string) (line, col int, msg string) {
	s = strings.TrimPrefix(s, "yaml: ")
	if m := yamlLineRE.FindStringSubmatchIndex(s); m != nil {
		line, _ = strconv.Atoi(s[m[2]:m[3]])
		if m[4] >= 0 {
			col, _ = strconv.Atoi(s[m[4]:m[5]])
		}
		return line, col, strings.TrimSpace(s[:m[0]] + s[m[1]:])
	}
	return 1, 1, s
}

// checkKeys compares a mapping node with a struct type, recursively.
func checkKeys(file string, firstLine int, n *yaml.Node, t reflect.Type, ps *Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			ps.add(file, firstLine+n.Line-1, n.Column, "expected a mapping of keys, found %s", describe(n))
			return
		}
		fields := map[string]reflect.StructField{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			fields[name] = f
			names = append(names, name)
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				ps.add(file, firstLine+k.Line-1, k.Column, "unknown key %q (known keys: %s)", k.Value, strings.Join(names, ", "))
				continue
			}
			seen[k.Value] = true
			checkKeys(file, firstLine, v, f.Type, ps)
		}
		for _, name := range names {
			if fields[name].Tag.Get("req") == "1" && !seen[name] {
				ps.add(file, firstLine+n.Line-1, n.Column, "missing key %q", name)
			}
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return
		}
		if n.Kind == yaml.SequenceNode {
			for _, item := range n.Content {
				checkKeys(file, firstLine, item, t.Elem(), ps)
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 1; i < len(n.Content); i += 2 {
				checkKeys(file, firstLine, n.Content[i], t.Elem(), ps)
			}
		}
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	case yaml.SequenceNode:
		return "a list"
	}
	return "something else"
}
