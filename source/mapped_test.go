package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
)

func TestValueMap(t *testing.T) {
	vm := newValueMap(map[string][]string{"cancelled": {"C*", "canceled"}, "completed": {"*"}, "returned": {"C*R"}})
	for in, want := range map[string]string{"C12345": "cancelled", "c1": "cancelled", "C12R": "returned", "489434": "completed",
		"CANCELED": "cancelled"} {
		if got := string(vm.apply([]byte(in))); got != want {
			t.Errorf("%q maps to %q, want %q", in, got, want)
		}
	}
	if got := string(newValueMap(map[string][]string{"completed": {"delivered"}}).apply([]byte("lost"))); got != "lost" {
		t.Errorf("an unmatched value became %q", got)
	}
}

func TestAppendNumber(t *testing.T) {
	comma, point := Format{DecimalComma: true}, Format{}
	for _, tt := range []struct {
		f    Format
		in   string
		abs  bool
		want string
	}{
		{comma, "1 234,56", false, "1234.56"},
		{comma, "1.234.567,8", false, "1234567.8"},
		{comma, "1\u00a0234,00", false, "1234.00"},
		{comma, "12.5", false, "12.5"}, // not a thousands group: a decimal point
		{comma, "1.234", false, "1234"},
		{comma, "-3,5", true, "3.5"},
		{comma, "1,2,3", false, "1,2,3"}, // not a number: canon rejects it as it is
		{point, "-7", true, "7"},
		{point, "1 000.5", false, "1000.5"},
	} {
		if got := string(tt.f.AppendNumber(nil, []byte(tt.in), tt.abs)); got != tt.want {
			t.Errorf("%q (decimal comma %v, abs %v) became %q, want %q", tt.in, tt.f.DecimalComma, tt.abs, got, tt.want)
		}
	}
}

func TestAppendTime(t *testing.T) {
	msk, _ := time.LoadLocation("Europe/Moscow")
	f := Format{Layouts: []string{"02.01.2006 15:04:05", "1/2/2006 15:04"}, Loc: msk}
	for in, want := range map[string]string{
		"21.04.2023 06:16:54":       "2023-04-21 03:16:54", // Moscow is UTC+3
		"10/2/2017 10:56":           "2017-10-02 07:56:00",
		"2023-04-21 06:16:54":       "2023-04-21 03:16:54", // ISO without an offset: on the shop's clock too
		"2023-04-21T06:16:54+01:00": "2023-04-21T06:16:54+01:00",
		"31.02.2023 00:00:00":       "31.02.2023 00:00:00", // no such day: left for canon to reject
	} {
		if got := string(f.AppendTime(nil, []byte(in))); got != want {
			t.Errorf("%q became %q, want %q", in, got, want)
		}
	}
}

// TestMappedHeader: the errors a mapping's header can have name what to do.
func TestMappedHeader(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "orders.csv"), []byte("id;who;when;state;extra\r\n1;a;2020-01-01;ok;x\r\n"), 0o600)
	orders, _ := canon.Lookup(canon.Orders)
	base := config.FileMapping{File: "orders.csv", FileFormat: config.FileFormat{Delimiter: ";"},
		Columns: map[string]config.Names{"id": {"order_id"}, "who": {"customer_id"}, "when": {"ordered_at"}, "state": {"status"}}}
	for _, tt := range []struct {
		name string
		edit func(m *config.FileMapping)
		says string
	}{
		{"unmapped column", func(m *config.FileMapping) {}, `column(s) "extra" are not mapped`},
		{"required column", func(m *config.FileMapping) { m.IgnoreUnmapped = true }, "nothing gives currency, gross_amount, net_amount, channel, updated_at of orders"},
		{"no file", func(m *config.FileMapping) { m.File = "sales*.csv" }, "looked for sales*.csv in " + dir + " for orders"},
		{"person key", func(m *config.FileMapping) { m.IgnoreUnmapped, m.PersonKey = true, "uid" }, `no person_key column "uid"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := base
			tt.edit(&m)
			_, err := OpenMapped(dir, m, NewFormat(m, time.UTC), orders, nil)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %v, want one saying %q", err, tt.says)
			}
		})
	}
}

// TestMappedFormats: the same customers written in each format a mapping
// reads land as the same text.
func TestMappedFormats(t *testing.T) {
	customers, _ := canon.Lookup(canon.Customers)
	w1252, _ := charmap.Windows1252.NewEncoder().String("id,city\r\n1,Zürich\r\n,\r\n2,Besançon\r\n")
	for _, tt := range []struct {
		name string
		file string
		f    config.FileFormat
	}{
		{"utf-8", "id,city\n1,Zürich\n,\n2,Besançon\n", config.FileFormat{}},
		{"utf-8 with a BOM, CRLF", "\ufeffid,city\r\n1,Zürich\r\n,\r\n2,Besançon\r\n", config.FileFormat{}},
		{"windows-1252", w1252, config.FileFormat{Encoding: "windows-1252"}},
		{"tab, single quotes", "id\tcity\n1\t'Zürich'\n\t\n2\t'Besan''çon'\n", config.FileFormat{Delimiter: "tab", Quote: "'"}},
		{"no quoting", "id|city\n1|Zürich\n|\n2|Besançon\n", config.FileFormat{Delimiter: "|", Quote: "none"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "c.csv"), []byte(tt.file), 0o600)
			m := config.FileMapping{File: "c.csv", FileFormat: tt.f, Columns: map[string]config.Names{"id": {"customer_id"}},
				Constants: map[string]string{"created_at": "2020-01-01", "updated_at": "2020-01-01"}}
			mp, err := OpenMapped(dir, m, NewFormat(m, time.UTC), customers, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer mp.Close()
			var got []string
			for mp.Next() {
				switch {
				case mp.Blank():
					got = append(got, "(blank)")
				default:
					got = append(got, string(mp.Fields()[customers.Index("city")]))
				}
			}
			want := "Zürich (blank) Besançon"
			if tt.name == "tab, single quotes" {
				want = "Zürich (blank) Besan'çon"
			}
			if strings.Join(got, " ") != want || mp.Err() != nil {
				t.Errorf("read %q (%v), want %q", got, mp.Err(), want)
			}
		})
	}
}
