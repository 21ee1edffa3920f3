package api

import (
	"errors"
	"net/url"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/internal/database"
)

// listPageSize is how many rows a page of an administrators' list shows.
const listPageSize = 50

// pager links the pages of a keyset-paged list: the next page (its
// cursor in ?jalkeen=) and, past the first page, the first one; both keep
// the list's other query parameters (search, order, state).
type pager struct {
	Next, First string
}

// afterOf is the request's cursor (?jalkeen=).
func afterOf(c *fiber.Ctx) string { return c.Query("jalkeen") }

// pageError turns a cursor the list did not make into a 400.
func pageError(err error) error {
	if errors.Is(err, database.ErrCursor) {
		return fiber.NewError(fiber.StatusBadRequest, "jalkeen is not a position in this list: follow the list's own links")
	}
	return err
}

// pagerFor links the pages around the one shown at path.
func pagerFor(c *fiber.Ctx, path, next string) pager {
	q := url.Values{}
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		switch string(k) {
		case "jalkeen", "ilmoitus":
		default:
			q.Add(string(k), string(v))
		}
	})
	link := func(after string) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		if after != "" {
			v.Set("jalkeen", after)
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	var p pager
	if next != "" {
		p.Next = link(next)
	}
	if afterOf(c) != "" {
		p.First = link("")
	}
	return p
}
