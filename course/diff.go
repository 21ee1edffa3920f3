package course

import "strings"

// DiffLine is one line of a line diff: Op is ' ' (in both), '-' (only in
// the old text) or '+' (only in the new one); Old and New are its 1-based
// line numbers on each side (0 where it has none).
type DiffLine struct {
	Op       byte
	Text     string
	Old, New int
}

// maxDiffCells bounds the work of a diff (lines of one × lines of the
// other); larger texts are compared as one block removed and one added.
const maxDiffCells = 4_000_000

// LineDiff compares two texts line by line with the longest common
// subsequence: the fewest lines removed and added.
func LineDiff(oldText, newText string) []DiffLine {
	a, b := splitLines(oldText), splitLines(newText)
	// Common head and tail first: edits are usually small.
	head := 0
	for head < len(a) && head < len(b) && a[head] == b[head] {
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && a[len(a)-1-tail] == b[len(b)-1-tail] {
		tail++
	}
	var out []DiffLine
	for i := 0; i < head; i++ {
		out = append(out, DiffLine{Op: ' ', Text: a[i], Old: i + 1, New: i + 1})
	}
	ma, mb := a[head:len(a)-tail], b[head:len(b)-tail]
	out = append(out, middle(ma, mb, head)...)
	for i := 0; i < tail; i++ {
		ia, ib := len(a)-tail+i, len(b)-tail+i
		out = append(out, DiffLine{Op: ' ', Text: a[ia], Old: ia + 1, New: ib + 1})
	}
	return out
}

func middle(a, b []string, offset int) []DiffLine {
	var out []DiffLine
	if len(a)*len(b) > maxDiffCells {
		for i, l := range a {
			out = append(out, DiffLine{Op: '-', Text: l, Old: offset + i + 1})
		}
		for i, l := range b {
			out = append(out, DiffLine{Op: '+', Text: l, New: offset + i + 1})
		}
		return out
	}
	// lcs[i][j]: the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int32, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out = append(out, DiffLine{Op: ' ', Text: a[i], Old: offset + i + 1, New: offset + j + 1})
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			// Removals before additions, as diff(1) shows a change.
			out = append(out, DiffLine{Op: '-', Text: a[i], Old: offset + i + 1})
			i++
		default:
			out = append(out, DiffLine{Op: '+', Text: b[j], New: offset + j + 1})
			j++
		}
	}
	return out
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(strings.ReplaceAll(s, "\r\n", "\n"), "\n"), "\n")
}
