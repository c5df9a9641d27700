#pragma once

#include <string>
#include <string_view>

namespace dbcanary {

// The one escaper for text put into HTML or XML, in element content and in attribute values
// (quoted with either quote): & < > " ' become &amp; &lt; &gt; &quot; &#39;. Every other byte
// is copied as is (UTF-8 stays intact).
std::string EscapeHtml(std::string_view text);

// EscapeHtml for an XML 1.0 document: also drops the control characters XML forbids (every
// byte below 0x20 but tab, line feed and carriage return).
std::string EscapeXml(std::string_view text);

}  // namespace dbcanary
