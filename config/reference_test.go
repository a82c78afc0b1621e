package config

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// updateDocs rewrites docs/config.md from the code:
// go test ./config -run TestConfigReference -update-docs
var updateDocs = flag.Bool("update-docs", false, "rewrite docs/config.md")

const referencePath = "../docs/config.md"

// TestConfigReference: docs/config.md is the configuration reference as the
// code defines it — every key (the yaml tags of Config, walked), its default
// (Default()), its environment variable and its meaning (the field's doc
// comment, else its type's) — and every key has a meaning.
func TestConfigReference(t *testing.T) {
	docs := fieldDocs(t)
	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("Generated from the code (`go test ./config -run TestConfigReference -update-docs`): every key of the YAML config, its default,\n")
	b.WriteString("the environment variable that overrides it, and what it means. `tessera.example.yaml` is the same with comments, ready to copy.\n")
	b.WriteString("Secrets are never read from the file: `TESSERA_CLICKHOUSE_PASSWORD`, `TESSERA_SOURCE_POSTGRES_DSN`, `TESSERA_SOURCE_MYSQL_DSN`, or the `*_file` keys.\n\n")
	b.WriteString("| key | default | environment | meaning |\n|---|---|---|---|\n")
	var undocumented []string
	var walk func(prefix string, t reflect.Type, v reflect.Value, typeDoc string)
	walk = func(prefix string, t reflect.Type, v reflect.Value, typeDoc string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")
			if tag[0] == "-" || !f.IsExported() {
				continue
			}
			var fv reflect.Value
			if v.IsValid() {
				fv = v.Field(i)
			}
			if slicesContains(tag[1:], "inline") {
				walk(prefix, f.Type, fv, typeDoc)
				continue
			}
			key := tag[0]
			if prefix != "" {
				key = prefix + "." + tag[0]
			}
			doc := docs[t.PkgPath()+"."+t.Name()+"."+f.Name]
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if doc == "" && ft.Kind() == reflect.Struct {
				doc = docs[ft.PkgPath()+"."+ft.Name()]
			}
			switch {
			case ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Time{}):
				if doc != "" {
					row(&b, key, "", "", doc)
				}
				walk(key, ft, deref(fv), doc)
				continue
			case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
				row(&b, key, "", "", doc)
				walk(key+".<name>", ft.Elem(), reflect.Value{}, doc)
				continue
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				row(&b, key, defaultOf(fv), "", doc)
				walk(key+"[]", ft.Elem(), reflect.Value{}, doc)
				continue
			}
			if doc == "" {
				undocumented = append(undocumented, key)
			}
			env := ""
			if name := "TESSERA_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_")); slicesContains(EnvNames(), name) {
				env = "`" + name + "`"
			}
			row(&b, key, defaultOf(fv), env, doc)
		}
	}
	walk("", reflect.TypeOf(Config{}), reflect.ValueOf(Default()), "")
	if len(undocumented) > 0 {
		t.Errorf("keys without a doc comment on their field: %v", undocumented)
	}
	got := b.String()
	if *updateDocs {
		if err := os.WriteFile(referencePath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(referencePath)
	if err != nil || string(want) != got {
		t.Errorf("docs/config.md is not the reference the code defines (%v): go test ./config -run TestConfigReference -update-docs", err)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func deref(v reflect.Value) reflect.Value {
	if v.IsValid() && v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}
		}
		return v.Elem()
	}
	return v
}

// defaultOf is a default as YAML writes it; "" for none.
func defaultOf(v reflect.Value) string {
	v = deref(v)
	if !v.IsValid() || v.IsZero() {
		return ""
	}
	if d, ok := v.Interface().(time.Duration); ok {
		return "`" + d.String() + "`"
	}
	out, err := yaml.Marshal(v.Interface())
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(out))
	if strings.Contains(s, "\n") {
		s = strings.ReplaceAll(s, "\n", "; ")
	}
	return "`" + strings.ReplaceAll(s, "|", "\\|") + "`"
}

func row(b *strings.Builder, key, def, env, doc string) {
	fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", key, def, env, strings.ReplaceAll(doc, "|", "\\|"))
}

// fieldDocs are the doc comments of the struct fields ("pkgpath.Type.Field")
// and types ("pkgpath.Type") of the packages the config's types are in.
func fieldDocs(t *testing.T) map[string]string {
	t.Helper()
	docs := map[string]string{}
	const module = "github.com/tessera-cdp/tessera"
	for _, pkg := range []string{"config", "segment", "model", "canon"} {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, "../"+pkg, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkgs {
			for _, file := range p.Files {
				ast.Inspect(file, func(n ast.Node) bool {
					gd, ok := n.(*ast.GenDecl)
					if !ok || gd.Tok != token.TYPE {
						return true
					}
					for _, spec := range gd.Specs {
						ts := spec.(*ast.TypeSpec)
						typeDoc := ts.Doc
						if typeDoc == nil && len(gd.Specs) == 1 {
							typeDoc = gd.Doc
						}
						name := path.Join(module, pkg) + "." + ts.Name.Name
						docs[name] = oneLine(typeDoc)
						st, ok := ts.Type.(*ast.StructType)
						if !ok {
							continue
						}
						// A field without a comment of its own, right under
						// others (no blank line), is described by the comment
						// above them when it names the field.
						prevDoc, prevLine := "", -1 // of a comment above a field
						for _, f := range st.Fields.List {
							doc := oneLine(f.Doc)
							if doc == "" {
								doc = oneLine(f.Comment)
							}
							line := fset.Position(f.Pos()).Line
							for _, n := range f.Names {
								d := doc
								if d == "" && line == prevLine+1 && strings.Contains(prevDoc, n.Name) {
									d = prevDoc // "A buyer is lost below LostPAlive or after LostDays"
								}
								docs[name+"."+n.Name] = d
							}
							if f.Doc != nil {
								prevDoc = doc
							}
							prevLine = fset.Position(f.End()).Line
						}
					}
					return true
				})
			}
		}
	}
	return docs
}

// oneLine is a comment as one line of text.
func oneLine(g *ast.CommentGroup) string {
	if g == nil {
		return ""
	}
	return strings.Join(strings.Fields(g.Text()), " ")
}
