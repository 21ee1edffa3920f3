package crashpoint

import "testing"

func TestReach(t *testing.T) {
	Reach("nothing set") // no hook: nothing happens
	var got []string
	Set(func(step string) { got = append(got, step) })
	Reach("a")
	Reach("b")
	Set(nil)
	Reach("c")
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("steps = %v, want [a b]", got)
	}
}
