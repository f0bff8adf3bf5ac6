import Foundation
import TillyardKit

/// Small server-made SVG charts for the console (no script, no inline style: colours are
/// presentation attributes, which the CSP allows). Pure: values in, markup out; every text is
/// XML-escaped.
enum SVGChart {
    /// One bar or point: its label, its value and the text shown beside it.
    struct Datum: Equatable {
        var label: String
        var value: Double
        var caption: String
    }

    static func escape(_ text: String) -> String { Markup.escape(text) }

    static func number(_ value: Double) -> String { String(format: "%.1f", value) }

    /// Horizontal bars, one row per datum, scaled to the largest value.
    static func bars(_ data: [Datum], title: String, width: Int = 560, colour: String = "#2f6f9f") -> String {
        let row = 22, labelWidth = 170, captionWidth = 110
        let height = max(data.count, 1) * row + 30
        let largest = max(data.map(\.value).max() ?? 0, 1)
        let span = Double(width - labelWidth - captionWidth)
        var svg = #"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="\#(width)" height="\#(height)" viewBox="0 0 \#(width) \#(height)">"#
        svg += "<title>\(escape(title))</title>"
        svg += #"<text x="0" y="16" font-size="13" font-weight="bold" fill="rgb(34,34,34)">\#(escape(title))</text>"#
        for (index, datum) in data.enumerated() {
            let y = 28 + index * row
            let length = max(datum.value, 0) / largest * span
            let label = datum.label.count > 24 ? String(datum.label.prefix(23)) + "…" : datum.label
            svg += #"<text x="0" y="\#(y + 14)" font-size="12" fill="rgb(51,51,51)">\#(escape(label))</text>"#
            svg += #"<rect x="\#(labelWidth)" y="\#(y + 3)" width="\#(number(length))" height="\#(row - 6)" fill="\#(colour)"/>"#
            svg += #"<text x="\#(number(Double(labelWidth) + length + 6))" y="\#(y + 14)" font-size="12" fill="rgb(51,51,51)">\#(escape(datum.caption))</text>"#
        }
        if data.isEmpty { svg += #"<text x="0" y="44" font-size="12" fill="rgb(119,119,119)">—</text>"# }
        return svg + "</svg>"
    }

    /// A line over time, with the first and last labels under the axis: percentages (0–100) by
    /// default, or values up to `maximum` with `tick` writing the axis labels (amounts, counts).
    static func line(_ data: [Datum], title: String, width: Int = 560, height: Int = 180, colour: String = "#3a8a3a", maximum: Double = 100,
                     tick: (Double) -> String = { "\(Int($0))%" }) -> String {
        let maximum = max(maximum, 1)
        let marks = [0.0, 50, 100].map { (share: $0, text: tick(maximum * $0 / 100)) }
        let left = max(36.0, Double(marks.map(\.text.count).max() ?? 0) * 7 + 4), top = 26.0, bottom = 24.0
        let plotWidth = Double(width) - left - 10, plotHeight = Double(height) - top - bottom
        var svg = #"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="\#(width)" height="\#(height)" viewBox="0 0 \#(width) \#(height)">"#
        svg += "<title>\(escape(title))</title>"
        svg += #"<text x="0" y="16" font-size="13" font-weight="bold" fill="rgb(34,34,34)">\#(escape(title))</text>"#
        for mark in marks {
            let y = top + plotHeight * (1 - mark.share / 100)
            svg += #"<line x1="\#(left)" y1="\#(number(y))" x2="\#(number(left + plotWidth))" y2="\#(number(y))" stroke="rgb(221,221,221)"/>"#
            svg += #"<text x="0" y="\#(number(y + 4))" font-size="11" fill="rgb(85,85,85)">\#(escape(mark.text))</text>"#
        }
        let step = data.count > 1 ? plotWidth / Double(data.count - 1) : 0
        let points = data.enumerated().map { index, datum in
            "\(number(left + Double(index) * step)),\(number(top + plotHeight * (1 - min(max(datum.value, 0), maximum) / maximum)))"
        }
        if points.count == 1 {
            let xy = points[0].split(separator: ",")
            svg += #"<circle cx="\#(xy[0])" cy="\#(xy[1])" r="3" fill="\#(colour)"/>"#
        } else if !points.isEmpty {
            svg += #"<polyline fill="none" stroke="\#(colour)" stroke-width="2" points="\#(points.joined(separator: " "))"/>"#
        }
        if let first = data.first, let last = data.last {
            svg += #"<text x="\#(left)" y="\#(height - 6)" font-size="11" fill="rgb(85,85,85)">\#(escape(first.label))</text>"#
            svg += #"<text x="\#(number(left + plotWidth))" y="\#(height - 6)" font-size="11" fill="rgb(85,85,85)" text-anchor="end">\#(escape(last.label))</text>"#
        } else {
            svg += #"<text x="\#(left)" y="\#(number(top + plotHeight / 2))" font-size="12" fill="rgb(119,119,119)">—</text>"#
        }
        return svg + "</svg>"
    }
}
