package study

import (
	"testing"

	"github.com/tyokyky/tyokyky/course"
)

func TestCheckSelf(t *testing.T) {
	yes := true
	items := []*course.ExamItem{
		{ID: "yksi", Type: course.ItemSingle, Options: []course.ExamOption{{ID: "a", Text: "A", Feedback: "A ei."}, {ID: "b", Text: "B", Correct: true, Feedback: "B kyllä."}}, Feedback: "Yleinen."},
		{ID: "monta", Type: course.ItemMultiple, Options: []course.ExamOption{{ID: "a", Correct: true}, {ID: "b"}, {ID: "c", Correct: true}}},
		{ID: "tosi", Type: course.ItemTrueFalse, Answer: &yes, FeedbackTrue: "Näin on.", FeedbackFalse: "Onpas."},
		{ID: "pari", Type: course.ItemMatching, Pairs: []course.ExamPair{{Left: "L1", Right: "R1"}, {Left: "L2", Right: "R2"}}},
	}
	all := CheckSelf(items, map[string]SelfAnswer{
		"yksi": {Choices: []string{"b"}}, "monta": {Choices: []string{"c", "a"}}, "tosi": {Choices: []string{"true"}}, "pari": {Pairs: []int{0, 1}},
	})
	if !all.Done || all.Right != 4 {
		t.Fatalf("all right = %+v", all)
	}
	if fb := all.Results[0].Feedback; len(fb) != 2 || fb[0] != "B kyllä." || fb[1] != "Yleinen." {
		t.Errorf("feedback = %q", fb)
	}
	some := CheckSelf(items, map[string]SelfAnswer{
		"yksi":  {Choices: []string{"a", "b"}}, // a radio cannot send two: not right
		"monta": {Choices: []string{"a"}},      // one of two
		"tosi":  {Choices: []string{"false"}},
		"pari":  {Pairs: []int{1, -1}},
	})
	if some.Done || some.Right != 0 {
		t.Fatalf("wrong answers = %+v", some)
	}
	if r := some.Results[2]; !r.Answered || r.Correct || len(r.Feedback) != 1 || r.Feedback[0] != "Onpas." {
		t.Errorf("truefalse = %+v", r)
	}
	none := CheckSelf(items, nil)
	for _, r := range none.Results {
		if r.Answered || r.Correct || len(r.Feedback) > 0 {
			t.Errorf("unanswered %s = %+v", r.Item.ID, r)
		}
	}
	if none.Done || CheckSelf(nil, nil).Done {
		t.Error("nothing answered is not done")
	}
}
