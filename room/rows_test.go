package room

import (
	"reflect"
	"testing"
)

// TestRowsEqualComparesEveryField: changing any field of a row but
// UserData (a member's own, never changed after its join) makes it differ.
func TestRowsEqualComparesEveryField(t *testing.T) {
	base := Row{ID: 1, Name: "a"}
	if !rowsEqual(base, base) {
		t.Fatal("a row differs from itself")
	}
	v := reflect.ValueOf(&base).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if name == "UserData" {
			continue
		}
		changed := base
		f := reflect.ValueOf(&changed).Elem().Field(i)
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(!f.Bool())
		case reflect.Int:
			f.SetInt(f.Int() + 7)
		case reflect.String:
			f.SetString(f.String() + "x")
		default:
			t.Fatalf("field %s of kind %s: teach this test and rowsEqual about it", name, f.Kind())
		}
		if rowsEqual(base, changed) {
			t.Errorf("rowsEqual misses a change of %s", name)
		}
	}
}
