package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	shipped "github.com/rideshare/dbaas/hcl"
)

// Load reads the configuration at path with the -var overrides in vars
// ("name=value"). When path does not exist on disk but names a shipped file
// (hcl/local.hcl, local.hcl), the copy embedded in the binary is used, so a
// fresh install needs no file. Diagnostics name file:line:column.
func Load(path string, vars []string) (*Config, error) {
	src, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if b, embErr := shipped.Files.ReadFile(filepath.Base(path)); embErr == nil {
			src, err = b, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return Parse(path, src, vars)
}

// Parse decodes HCL source and checks it (see schema.decode); filename is used
// in diagnostics.
func Parse(filename string, src []byte, vars []string) (*Config, error) {
	file, diags := hclparse.NewParser().ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	content, body, diags := file.Body.PartialContent(&hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{{Type: "variable", LabelNames: []string{"name"}}},
	})
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	values, err := variables(content.Blocks, vars)
	if err != nil {
		if d, ok := err.(hcl.Diagnostics); ok {
			return nil, diagError(d)
		}
		return nil, err
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(values)}}
	var f schema
	if diags := gohcl.DecodeBody(body, ctx, &f); diags.HasErrors() {
		return nil, diagError(diags)
	}
	return f.decode(filename)
}

// variables evaluates the variable blocks' defaults and applies overrides.
// An override of an undeclared variable is an error, as in Terraform.
func variables(blocks hcl.Blocks, overrides []string) (map[string]cty.Value, error) {
	values := map[string]cty.Value{}
	for _, b := range blocks {
		attrs, diags := b.Body.JustAttributes()
		if diags.HasErrors() {
			return nil, diags
		}
		name := b.Labels[0]
		if _, dup := values[name]; dup {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Duplicate variable",
				Detail: fmt.Sprintf("variable %q is declared twice", name), Subject: b.DefRange.Ptr()}}
		}
		values[name] = cty.NullVal(cty.DynamicPseudoType)
		for k, a := range attrs {
			switch k {
			case "default":
				v, diags := a.Expr.Value(nil)
				if diags.HasErrors() {
					return nil, diags
				}
				values[name] = v
			case "description", "type":
			default:
				return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unsupported argument",
					Detail: fmt.Sprintf("variable %q: %q is not an argument of a variable block", name, k), Subject: a.Range.Ptr()}}
			}
		}
	}
	for _, o := range overrides {
		name, raw, ok := strings.Cut(o, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("-var %q: want name=value", o)
		}
		old, declared := values[name]
		if !declared {
			return nil, fmt.Errorf("-var %q: no variable %q is declared (declared: %s)", o, name, strings.Join(keys(values), ", "))
		}
		v, err := overrideValue(old, raw)
		if err != nil {
			return nil, fmt.Errorf("-var %q: %w", o, err)
		}
		values[name] = v
	}
	for name, v := range values {
		if v.IsNull() {
			return nil, fmt.Errorf("variable %q has no default and no -var %s=… was given", name, name)
		}
	}
	return values, nil
}

// listForms are the ways a list variable may be given with -var.
const listForms = `accepted forms: a:1 (one value), a:1,b:2 (comma-separated) or ["a:1","b:2"] (HCL)`

// overrideValue reads a -var value: a string stays a string (like Terraform),
// a number or bool is converted to the default's type, a list is one bare
// value, comma-separated values or an HCL list, and a map is parsed as an HCL
// expression.
func overrideValue(old cty.Value, raw string) (cty.Value, error) {
	if old.IsNull() || old.Type() == cty.String {
		return cty.StringVal(raw), nil
	}
	if old.Type().IsPrimitiveType() {
		v, err := convert.Convert(cty.StringVal(raw), old.Type())
		if err != nil {
			return cty.NilVal, fmt.Errorf("want a %s: %w", old.Type().FriendlyName(), err)
		}
		return v, nil
	}
	t := old.Type()
	isList := t.IsListType() || t.IsTupleType() || t.IsSetType()
	if trimmed := strings.TrimSpace(raw); isList && !strings.HasPrefix(trimmed, "[") {
		// As people type it: one bare value, or several separated by
		// commas (-var zk_servers=10.0.0.5:2181,10.0.0.6:2181).
		var items []cty.Value
		for _, item := range strings.Split(trimmed, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, cty.StringVal(item))
			}
		}
		if len(items) == 0 {
			return cty.NilVal, fmt.Errorf("empty list; %s", listForms)
		}
		return cty.TupleVal(items), nil
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), "-var", hcl.InitialPos)
	if diags.HasErrors() {
		if isList {
			return cty.NilVal, fmt.Errorf("not an HCL list (%s): %s", listForms, diags.Error())
		}
		return cty.NilVal, fmt.Errorf("not an HCL value: %s", diags.Error())
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("not an HCL value: %s", diags.Error())
	}
	return v, nil
}

func keys(m map[string]cty.Value) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// diagError renders each diagnostic as "file:line:column: summary; detail".
func diagError(diags hcl.Diagnostics) error {
	var lines []string
	for _, d := range diags {
		msg := d.Summary
		if d.Detail != "" {
			msg += "; " + d.Detail
		}
		if r := d.Subject; r != nil {
			msg = fmt.Sprintf("%s:%d:%d: %s", r.Filename, r.Start.Line, r.Start.Column, msg)
		}
		lines = append(lines, msg)
	}
	return errors.New(strings.Join(lines, "\n"))
}
