package exam

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/course"
)

// A synthetic population with known figures: ten learners, four
// single-choice items. A everyone gets right; B the five strongest; C
// seven; D only the two who miss C and B (a suspicious item).
func TestStatisticsOnASyntheticPopulation(t *testing.T) {
	item := func(id string) Drawn {
		return Drawn{ID: id, Module: "m", Type: course.ItemSingle, Options: []string{"a", "b"}, Correct: []string{"a"}}
	}
	right := map[string]func(i int) bool{
		"A": func(int) bool { return true },
		"B": func(i int) bool { return i >= 5 },
		"C": func(i int) bool { return i >= 3 },
		"D": func(i int) bool { return i < 2 },
	}
	var attempts []*Attempt
	for i := 0; i < 10; i++ {
		a := &Attempt{UserID: string(rune('a' + i)), Number: 1, Status: StatusSubmitted, Answers: map[string]*Answer{}}
		for _, id := range []string{"A", "B", "C", "D"} {
			a.Items = append(a.Items, item(id))
			choice := "b"
			if right[id](i) {
				choice = "a"
			}
			a.Answers[id] = &Answer{Choices: []string{choice}}
		}
		a.Result = Grade(a.Items, a.Answers, 70)
		attempts = append(attempts, a)
	}
	// A second attempt of learner "a", all right: counts for the exam,
	// not for the item figures.
	second := &Attempt{UserID: "a", Number: 2, Status: StatusSubmitted, Items: attempts[0].Items, Answers: map[string]*Answer{}}
	for _, id := range []string{"A", "B", "C", "D"} {
		second.Answers[id] = &Answer{Choices: []string{"a"}}
	}
	second.Result = Grade(second.Items, second.Answers, 70)
	attempts = append(attempts, second, &Attempt{UserID: "z", Status: StatusOpen})

	st := ComputeStats(attempts)
	if st.Attempts != 11 || st.Learners != 10 || st.FirstAttempts != 10 || st.Passed != 6 || st.PassRate != 0.545 {
		t.Fatalf("exam figures = %+v", st)
	}
	if st.Distribution[2] != 1 || st.Distribution[5] != 4 || st.Distribution[7] != 5 || st.Distribution[9] != 1 {
		t.Fatalf("distribution = %v", st.Distribution)
	}
	by := map[string]ItemStats{}
	for _, is := range st.Items {
		by[is.Item] = is
	}
	disc := func(id string) float64 {
		if by[id].Discrimination == nil {
			return -99
		}
		return *by[id].Discrimination
	}
	// Worked by hand: B's scores [0 0 0 0 0 1 1 1 1 1] against the rest
	// [2 2 1 2 2 2 2 2 2 2] correlate at 0.5 / sqrt(2.5 · 0.9) = 0.333;
	// D's [1 1 0 …] against [1 1 1 2 2 3 3 3 3 3] at −2.4 / sqrt(1.6 · 7.6).
	if by["A"].Facility != 1 || by["A"].Discrimination != nil || strings.Join(by["A"].Flags, ",") != FlagEasy {
		t.Errorf("A = %+v", by["A"])
	}
	if by["B"].Facility != 0.5 || disc("B") != 0.333 || len(by["B"].Flags) != 0 {
		t.Errorf("B = %+v, discrimination %v", by["B"], disc("B"))
	}
	if by["C"].Facility != 0.7 {
		t.Errorf("C = %+v", by["C"])
	}
	if by["D"].Facility != 0.2 || disc("D") != -0.688 || strings.Join(by["D"].Flags, ",") != FlagNonDiscriminat {
		t.Errorf("D = %+v, discrimination %v", by["D"], disc("D"))
	}
	if by["B"].Choices["a"] != 5 || by["B"].Choices["b"] != 5 {
		t.Errorf("B's choices = %v", by["B"].Choices)
	}
	var csv bytes.Buffer
	if err := st.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), "B,m,single,10,0.500,0.333,,a=5 b=5") || !strings.Contains(csv.String(), "A,m,single,10,1.000,,facility>0.9,a=10") {
		t.Fatalf("csv:\n%s", csv.String())
	}
}

// An item whose type an author changed under the same id (true/false
// earlier, single choice now) is counted from each attempt's own item:
// the statistics neither fail nor misread the answers.
func TestStatisticsSurviveAnItemWhoseTypeChanged(t *testing.T) {
	yes := true
	tf := &Attempt{UserID: "a", Number: 1, Status: StatusSubmitted,
		Items:   []Drawn{{ID: "X", Module: "m", Type: course.ItemTrueFalse, Answer: &yes}},
		Answers: map[string]*Answer{"X": {Value: &yes}}}
	tf.Result = Grade(tf.Items, tf.Answers, 70)
	single := &Attempt{UserID: "b", Number: 1, Status: StatusSubmitted,
		Items:   []Drawn{{ID: "X", Module: "m", Type: course.ItemSingle, Options: []string{"a", "b"}, Correct: []string{"a"}}},
		Answers: map[string]*Answer{"X": {Choices: []string{"a"}}}}
	single.Result = Grade(single.Items, single.Answers, 70)
	for _, order := range [][]*Attempt{{tf, single}, {single, tf}} {
		st := ComputeStats(order)
		if len(st.Items) != 1 || st.Items[0].Attempts != 2 || st.Items[0].Choices["a"] != 1 || st.Items[0].Choices["true"] != 1 {
			t.Fatalf("stats = %+v", st.Items)
		}
	}
}
