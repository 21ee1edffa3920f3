package api_test

import (
	"encoding/json"
	"testing"

	"github.com/tyokyky/tyokyky/org"
)

// GET /api/v1/organisations lists the seeded, active organisations with
// their units depth first, named in the reader's language, and no
// domains; an inactive one is left out.
func TestOrganisationsAPI(t *testing.T) {
	r := start(t)
	ctx := t.Context()
	dir := org.NewDirectory(r.db)
	sote, err := dir.AddUnit(ctx, "pirkanmaa", "", "Sosiaalipalvelut", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddUnit(ctx, "pirkanmaa", sote.ID, "Perhekeskus", "test"); err != nil {
		t.Fatal(err)
	}
	if err := dir.AddDomain(ctx, "pirkanmaa", "pirha.fi"); err != nil {
		t.Fatal(err)
	}
	if err := dir.Update(ctx, "kainuu", "Kainuun hyvinvointialue", "Kajanalands välfärdsområde", false); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, r.URL+"/api/v1/organisations", "Accept-Language", "sv")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var got struct {
		Organisations []struct {
			Code, Name string
			NameFI     string `json:"name_fi"`
			Units      []org.Entry
		}
		Other string
	}
	var raw map[string][]map[string]any
	json.Unmarshal([]byte(body), &raw)
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Organisations) != 22 || got.Other != "muu" {
		t.Fatalf("%d organisations, other %q", len(got.Organisations), got.Other)
	}
	for i, o := range got.Organisations {
		if _, has := raw["organisations"][i]["domains"]; has {
			t.Fatalf("the API shows domains: %v", raw["organisations"][i])
		}
		switch o.Code {
		case "kainuu":
			t.Fatal("an inactive organisation is listed")
		case "pirkanmaa":
			if o.NameFI != "Pirkanmaan hyvinvointialue" || len(o.Units) != 2 || o.Units[1].Name != "Perhekeskus" || o.Units[1].Depth != 1 ||
				len(o.Units[1].Path) != 2 || o.Units[0].ID != sote.ID {
				t.Fatalf("pirkanmaa: %+v", o)
			}
		case "hus":
			if o.Units == nil || len(o.Units) != 0 {
				t.Fatalf("hus units %v", o.Units)
			}
		}
	}
	for _, o := range got.Organisations {
		if o.Code == "hus" && o.Name != "HUS-sammanslutningen" {
			t.Fatalf("the Swedish name of hus: %q", o.Name)
		}
	}
}
