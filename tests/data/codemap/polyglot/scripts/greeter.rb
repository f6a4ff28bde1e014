module Shop
  class Greeter
    def initialize(name)
      @name = name
    end

    def greet(greeting = "hello")
      "#{greeting} #{@name}"
    end

    def self.default
      new("world")
    end
  end
end
