import Foundation

/// An inline SVG line chart of NPS per store per day, drawn on the server: the page needs no
/// script and no asset from elsewhere. NPS runs from -100 to 100, so the scale is fixed and two
/// charts (or two refreshes) compare at a glance.
public enum NPSChart {
    /// Distinct on white and for the common colour-vision deficiencies (Okabe & Ito's palette,
    /// without its yellow, which is unreadable as a thin line).
    public static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00", "#7F3C8D", "#8C6D31"]
    public static let chainColour = "#222222"
    public static let width = 760.0
    public static let height = 270.0

    /// The series drawn, in order (each store keeps its colour in the legend and the table).
    public static func drawn(_ panel: NPSPanel) -> [NPSPanel.Series] {
        Array(panel.stores.prefix(palette.count))
    }

    public static func svg(_ panel: NPSPanel) -> String {
        let left = 44.0, right = 24.0, top = 12.0, bottom = 30.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let days = panel.days.count
        func x(_ day: Int) -> Double { days <= 1 ? left + plotWidth / 2 : left + plotWidth * Double(day) / Double(days - 1) }
        func y(_ nps: Double) -> Double { top + plotHeight * (100 - min(100, max(-100, nps))) / 200 }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        var out = ##"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 \##(Int(width)) \##(Int(height))" width="\##(Int(width))" height="\##(Int(height))">"##
        out += "<title>NPS per store per day, \(HTML.escape(panel.days.first ?? "")) to \(HTML.escape(panel.days.last ?? ""))</title>"
        // The scale: promoters minus detractors, with the zero line stronger.
        for value in stride(from: -100, through: 100, by: 50) {
            let lineY = f(y(Double(value)))
            out += ##"<line x1="\##(f(left))" y1="\##(lineY)" x2="\##(f(width - right))" y2="\##(lineY)" stroke="\##(value == 0 ? "#888" : "#e3e3e3")" stroke-width="1"/>"##
            out += ##"<text x="\##(f(left - 6))" y="\##(f(y(Double(value)) + 4))" text-anchor="end" font-size="11" fill="#555">\##(value)</text>"##
        }
        // Day labels: at most about 8, always the last (today).
        let step = max(1, Int((Double(days) / 8).rounded(.up)))
        for day in 0..<days where (days - 1 - day) % step == 0 {
            let label = String(panel.days[day].suffix(5))
            out += ##"<text x="\##(f(x(day)))" y="\##(f(height - 10))" text-anchor="middle" font-size="11" fill="#555">\##(HTML.escape(label))</text>"##
        }
        func line(_ series: NPSPanel.Series, colour: String, width strokeWidth: Double, dashed: Bool) -> String {
            var text = ""
            // A day without answers breaks the line rather than pretending a value.
            var runs: [[(Int, Double)]] = [[]]
            for (day, value) in series.nps.enumerated() {
                if let value { runs[runs.count - 1].append((day, value)) } else if !(runs.last?.isEmpty ?? true) { runs.append([]) }
            }
            for run in runs where run.count > 1 {
                let points = run.map { "\(f(x($0.0))),\(f(y($0.1)))" }.joined(separator: " ")
                let dash = dashed ? " stroke-dasharray=\"6 4\"" : ""
                text += ##"<polyline fill="none" stroke="\##(colour)" stroke-width="\##(strokeWidth)"\##(dash) stroke-linejoin="round" points="\##(points)"/>"##
            }
            for (day, value) in series.nps.enumerated() {
                guard let value else { continue }
                let answers = day < series.responses.count ? series.responses[day] : 0
                text += ##"<circle cx="\##(f(x(day)))" cy="\##(f(y(value)))" r="3.5" fill="\##(colour)"><title>\##(HTML.escape(series.name)) \##(HTML.escape(panel.days[day])): NPS \##(f(value)) (\##(answers) answers)</title></circle>"##
            }
            return text
        }
        if let chain = panel.chain { out += line(chain, colour: chainColour, width: 2, dashed: true) }
        for (index, series) in drawn(panel).enumerated() {
            out += line(series, colour: palette[index], width: 2.5, dashed: false)
        }
        out += "</svg>"
        return out
    }
}
