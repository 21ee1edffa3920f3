package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tyokyky/tyokyky/course"
)

// TestAnswerSubmitWaitsForTheAutosave: a learner pauses (the field saves
// itself, slowly), types on and sends the form while that save is still
// on its way. The form waits for it, so the earlier text cannot arrive
// after the final one and replace it (found in the LTI frame test under
// load).
func TestAnswerSubmitWaitsForTheAutosave(t *testing.T) {
	base, ctx, sess := signedInBrowser(t)
	task := firstSection(t, course.CompleteOnTask, siteCourse.Modules...)
	if err := chromedp.Do(ctx, withSession(base, sess), chromedp.Navigate(base+task.URL())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.readyState === "complete" && !!document.querySelector("form.task-answer textarea")`, "the task's answer form")
	// The page's saves wait until released: a slow network.
	evalString(ctx, `(() => { window.held = []; const f = window.fetch;
		window.fetch = (u, o) => String(u).includes("/api/v1/tasks/") && o && o.method === "PUT"
			? new Promise(ok => window.held.push(() => ok(f(u, o)))) : f(u, o); return ""; })()`)
	saveURL := evalString(ctx, `document.querySelector("form.task-answer").getAttribute("data-autosave")`)
	const final = "Ensin pysähdyin, sitten kirjoitin vastauksen loppuun."
	evalString(ctx, `(() => { const a = document.querySelector("form.task-answer textarea"); a.value = "Ensin"; a.dispatchEvent(new Event("blur")); return ""; })()`)
	waitFor(t, ctx, `window.held.length === 1`, "the autosave on its way")
	evalString(ctx, `(() => { const f = document.querySelector("form.task-answer"); f.querySelector("textarea").value = "`+final+`";
		f.querySelector("button[type=submit], button:not([type])").click(); return ""; })()`)
	// Sent at once, the form could overtake the save: it waits.
	time.Sleep(500 * time.Millisecond)
	if got := evalString(ctx, `Array.isArray(window.held) ? "held" : "sent"`); got != "held" {
		t.Fatal("the form was sent while the autosave was still on its way")
	}
	if resp, body := get(t, base+saveURL, "Cookie", "session="+sess); resp.StatusCode == 200 && strings.Contains(body, final) {
		t.Fatal("the final text arrived before the autosave")
	}
	evalString(ctx, `(() => { window.held.forEach(r => r()); return ""; })()`)
	waitFor(t, ctx, `document.readyState === "complete" && !Array.isArray(window.held)`, "the page after the form, sent once the autosave arrived")
	resp, body := get(t, base+saveURL, "Cookie", "session="+sess)
	var a struct{ Text string }
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &a) != nil || a.Text != final {
		t.Fatalf("the answer kept is %d %s, want the text sent last, %q", resp.StatusCode, body, final)
	}
}
