/* The console's strings: Django's JavaScript catalogue (the `javascript-catalog` script tag in the
 * page, in the page's language) defines window.django. `makemessages -d djangojs` finds the
 * gettext/ngettext calls in every module. Without the catalogue a page stays in English. */
const catalogue = window.django || {};

export const gettext = (msgid) => (catalogue.gettext ? catalogue.gettext(msgid) : msgid);

export const ngettext = (singular, plural, count) =>
  catalogue.ngettext ? catalogue.ngettext(singular, plural, count) : count === 1 ? singular : plural;

// Django's interpolate(fmt, {name: value}, true): "%(name)s" filled in from the object.
export const interpolate = (fmt, values) => fmt.replace(/%\((\w+)\)s/g, (match, name) => String(values[name]));

// The page's language, for dates and times drawn here in the browser's own time zone.
export const language = document.documentElement.lang || undefined;
