import ArgumentParser

// `@Option(ServerSettings.port) var port: Port?`: an option or a flag declared from its row of
// the settings table (its flag, its help, its type's parser), so that a declaration cannot
// drift from the table.

extension Option {
    init<T: ArgumentValue>(_ setting: Setting<T>) where Value == T? {
        self.init(name: setting.name, help: setting.help, transform: { try T(parsing: $0) })
    }

    /// A command's own option for a setting, under another name and in its own words
    /// (`token gc --grace` for `--gc-grace`).
    init<T: ArgumentValue>(_ setting: Setting<T>, name: String, about: String) where Value == T? {
        self.init(name: .customLong(name), help: setting.help(about: about), transform: { try T(parsing: $0) })
    }

    init<T: ArgumentValue>(wrappedValue: [T], _ setting: ListSetting<T>) where Value == [T] {
        self.init(wrappedValue: wrappedValue, name: setting.name, help: setting.help, transform: { try T(parsing: $0) })
    }
}

extension Flag where Value == Bool {
    init(wrappedValue: Bool, _ setting: Switch) {
        self.init(wrappedValue: wrappedValue, name: setting.name, help: setting.help)
    }
}
